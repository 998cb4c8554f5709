"""What every campaign job reads: the campaign and item rows, progress counted from the
judgment rows, the candidates an item shows, and items with their judgments.

`CampaignRecords` is the base of the jobs (`creation`, `queue`, `review`): it holds the
annotation store whose database keeps the campaign tables, and runs their migrations.
Transactions are the store's own (`store.write()` / `store.read()`): committed on normal
exit, rolled back on any error, one SQLite writer at a time in this process (campaign and
annotation writes queue on the one lock), a full disk said in one message.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select

from albert_demo.campaigns import agreement as agree
from albert_demo.campaigns import checks
from albert_demo.campaigns import schema as db
from albert_demo.campaigns.errors import NotFound
from albert_demo.campaigns.identity import shown_name
from albert_demo.masks import MASK

DEFAULT_LEASE_SECONDS = 600


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def judged_count(item_id):
    """How many judgments (not skips or flags) an item has: counted from the rows."""
    return (select(func.count()).select_from(db.judgments)
            .where(db.judgments.c.item_id == item_id, db.judgments.c.kind == "judged")
            .scalar_subquery())


class CampaignRecords:
    def __init__(self, store, model_cache, *, lease_seconds: int = DEFAULT_LEASE_SECONDS,
                 clock=utcnow, owners=frozenset()):
        """store: an `AnnotationStore` (its database holds the tables); model_cache:
        anything with ``get(preset)`` returning a predictor (`predict_batch(texts,
        top_k)`); lease_seconds: how long an item stays with the annotator it was handed
        to (default for new campaigns); clock: now, as an aware datetime (tests move it);
        owners: logins (users-file names, Hugging Face usernames) that may create
        campaigns; none named: anyone may (see `identity.from_request`)."""
        self.store = store
        self.owners = frozenset(owners)
        self.engine = store.engine
        self.cache = model_cache
        self.lease_seconds = int(lease_seconds)
        self.clock = clock
        with self.store.write() as conn:
            db.migrate(conn)

    def _campaign(self, conn, campaign_id) -> dict:
        campaign_id = checks.row_id(campaign_id, "campaign")
        row = conn.execute(select(db.campaigns)
                           .where(db.campaigns.c.id == campaign_id)).one_or_none()
        if row is None:
            raise NotFound(f"No campaign #{campaign_id}: pick one from the list.")
        return dict(row._mapping)

    def _item(self, conn, campaign, item_id, lock=False) -> dict:
        item_id = checks.row_id(item_id, "item")
        stmt = select(db.items).where(db.items.c.id == item_id,
                                      db.items.c.campaign_id == campaign["id"])
        row = conn.execute(stmt.with_for_update() if lock else stmt).one_or_none()
        if row is None:
            raise NotFound(f"No item #{item_id} in campaign #{campaign['id']}.")
        return dict(row._mapping)

    def _summary(self, conn, campaign, annotator) -> dict:
        n_items = conn.execute(select(func.count()).select_from(db.items).where(
            db.items.c.campaign_id == campaign["id"])).scalar_one()
        judged = conn.execute(select(func.count()).select_from(db.judgments).where(
            db.judgments.c.campaign_id == campaign["id"],
            db.judgments.c.kind == "judged")).scalar_one()
        yours = conn.execute(select(func.count()).where(
            db.judgments.c.campaign_id == campaign["id"], db.judgments.c.annotator == annotator.id,
            db.judgments.c.kind == "judged")).scalar_one()
        needed = n_items * campaign["overlap"]
        return {"id": campaign["id"], "name": campaign["name"],
                "owner": shown_name(campaign["owner"]),
                "you_own_it": campaign["owner"] == annotator.id,
                "created_at": campaign["created_at"].isoformat(),
                "presets": campaign["presets"], "top_k": campaign["top_k"],
                "overlap": campaign["overlap"], "guidelines": campaign["guidelines"],
                "lease_seconds": campaign["lease_seconds"], "items": n_items,
                "source": campaign["source"],
                "progress": {"yours": yours, "judged": int(judged), "needed": needed,
                             "text": f"yours {yours} · campaign {int(judged)} of {needed} "
                                     "judgments"}}

    @staticmethod
    def _columns(campaign, item) -> list[str]:
        presets = list(campaign["presets"])
        return presets[::-1] if item["swap"] else presets

    def _options(self, campaign, item) -> list[list[str]]:
        """Per mask: the candidate words shown, in display order, without repeats. Where
        the source had a word at the mask (`original`), it is among them and the whole
        list is shuffled, the same way every time for that item, so its place says
        nothing about where it came from."""
        columns = [item["predictions"][p] for p in self._columns(campaign, item)]
        out = []
        for mask in range(item["text"].count(MASK)):
            words = list(dict.fromkeys(agree.norm(p["token"]) for col in columns
                                       for p in col[mask] if agree.norm(p["token"])))
            original = self._original(item, mask)
            if original is not None:
                words = list(dict.fromkeys(words + [original]))
                random.Random(f"campaign item {item['id']} mask {mask}").shuffle(words)
            out.append(words)
        return out

    @staticmethod
    def _original(item, mask):
        """The source's word at this mask (normalised), offered among the candidates."""
        reference = item.get("reference") or []
        return agree.norm(reference[mask]) if mask < len(reference) else None

    def _items_with_judgments(self, conn, campaign) -> list[dict]:
        rows = conn.execute(select(db.items).where(db.items.c.campaign_id == campaign["id"])
                            .order_by(db.items.c.ordinal)).all()
        answers = conn.execute(select(db.judgments)
                               .where(db.judgments.c.campaign_id == campaign["id"])
                               .order_by(db.judgments.c.created_at, db.judgments.c.id)).all()
        by_item: dict[int, list] = {}
        for j in answers:
            by_item.setdefault(j.item_id, []).append(j)
        out = []
        for r in rows:
            item = dict(r._mapping)
            mine = by_item.get(item["id"], [])
            item["options"] = self._options(campaign, item)
            item["predictions_words"] = {p: [[agree.norm(x["token"]) for x in m] for m in v]
                                         for p, v in item["predictions"].items()}
            item["all"] = mine
            item["judgments"] = [{"annotator": j.annotator, "answers": j.answers}
                                 for j in mine if j.kind == "judged"]
            out.append(item)
        return out

    @staticmethod
    def _for_agreement(item) -> dict:
        return {"id": item["id"], "options": item["options"], "gold": item["gold"],
                "gold_source": item["gold_source"], "predictions": item["predictions_words"],
                "judgments": item["judgments"]}
