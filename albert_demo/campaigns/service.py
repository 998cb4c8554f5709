"""Campaigns: create from sentences, hand out items through a leased queue, collect
judgments, measure agreement, settle the gold, export.

    service = CampaignService(store, ModelCache())          # store: AnnotationStore
    alice = Annotator.user("alice", owner=True)
    c = service.create(alice, "Colours", source="sentences.txt", presets=["albert_tiny_en_uncased"],
                       overlap=3, masking={"strategy": "least_sure"})
    item = service.next(bob, c["id"])                          # leased to bob for 10 minutes
    service.submit(bob, c["id"], item["item_id"], [{"accepted": ["blue"], "typed": None}])

One object for the app to build once; the work is split by job, a file each:

| file | job |
|---|---|
| `records.py` | the tables' rows a job reads; progress counted from the judgment rows |
| `creation.py` | a campaign from a file or annotation rows: masks, predictions, items |
| `queue.py` | leases, answers (judged / skipped / flagged), undo, one's own answers |
| `review.py` | the owner's figures, review and adjudication, evaluation, export |
| `policies.py` | who may do what |
| `checks.py` | what a request must look like |

Tables live in the annotation store's database (its engine). Every method runs in one
transaction and raises a `CampaignError` (nothing changed) for a person's mistake.
"""

from __future__ import annotations

from sqlalchemy import select

from albert_demo.campaigns import schema as db
from albert_demo.campaigns.creation import CampaignCreation
from albert_demo.campaigns.identity import Annotator
from albert_demo.campaigns.queue import CampaignQueue
from albert_demo.campaigns.review import CampaignReview


class CampaignService(CampaignCreation, CampaignQueue, CampaignReview):
    """Every campaign job on one store (see `records.CampaignRecords` for the arguments)."""

    def get(self, annotator: Annotator, campaign_id) -> dict:
        with self.store.read() as conn:
            return self._summary(conn, self._campaign(conn, campaign_id), annotator)

    def list(self, annotator: Annotator) -> list[dict]:
        with self.store.read() as conn:
            rows = conn.execute(select(db.campaigns)
                                .order_by(db.campaigns.c.id.desc())).all()
            return [self._summary(conn, dict(r._mapping), annotator) for r in rows]

    def progress(self, annotator: Annotator, campaign_id) -> dict:
        return self.get(annotator, campaign_id)["progress"]
