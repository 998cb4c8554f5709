"""The work queue: hand out items under leases, take answers (judged, skipped, flagged),
undo the latest one, list one's own.

Concurrency: every change to an item's judgments or leases first locks the item's row
(PostgreSQL ``SELECT … FOR UPDATE``; SQLite has one writer at a time) and then reads what
it changes. Leasing picks an open item with ``FOR UPDATE SKIP LOCKED``, then re-counts
under the lock, so an item is never leased to more people than it still needs; an answer
needs a lease that has not run out and re-checks the count; ``undo`` deletes the answer
under the lock and refuses if another undo took it first; and ``UNIQUE(item, annotator)``
keeps one answer per person per item.
"""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from albert_demo.campaigns import agreement as agree
from albert_demo.campaigns import checks, policies
from albert_demo.campaigns import schema as db
from albert_demo.campaigns.errors import CampaignError, NotLeased
from albert_demo.campaigns.identity import Annotator
from albert_demo.campaigns.records import CampaignRecords, judged_count

# `next` waits up to 100 x 20 ms for open items another transaction holds for a moment.
LOCKED_RETRIES = 100
LOCKED_RETRY_SECONDS = 0.02


class CampaignQueue(CampaignRecords):
    def _shown(self, conn, campaign, item, annotator, lease_expires, previous=None) -> dict:
        columns = self._columns(campaign, item)
        labels = "AB" if len(columns) == 2 else [""]
        options = self._options(campaign, item)
        # Where the original word is on offer, no column ranks are shown: a word no
        # preset ranked would give it away (blind: nothing marks the original).
        masks = [{"mask": m, "options": options[m],
                  "columns": [] if self._original(item, m) is not None else [
                      {"label": label, "words": [
                          agree.norm(p["token"]) for p in item["predictions"][preset][m]]}
                      for label, preset in zip(labels, columns)]}
                 for m in range(len(options))]
        return {"campaign_id": campaign["id"], "item_id": item["id"], "text": item["text"],
                "masks": masks, "guidelines": campaign["guidelines"],
                "lease_expires_at": lease_expires.isoformat(), "previous": previous,
                "progress": self._summary(conn, campaign, annotator)["progress"]}

    @staticmethod
    def _open_items(campaign, annotator, now):
        """Items this annotator may still take: too few judgments and leases, not theirs."""
        overlap = campaign["overlap"]
        active = (select(func.count()).select_from(db.leases)
                  .where(db.leases.c.item_id == db.items.c.id, db.leases.c.expires_at > now)
                  .scalar_subquery())
        answered = exists().where(db.judgments.c.item_id == db.items.c.id,
                                  db.judgments.c.annotator == annotator.id)
        judged = judged_count(db.items.c.id)
        return (select(db.items.c.id)
                .where(db.items.c.campaign_id == campaign["id"], judged < overlap,
                       ~answered, judged + active < overlap))

    def _lease_open_item(self, conn, campaign, annotator, now):
        """Lock an item this annotator may take, re-count under the lock, lease it."""
        overlap = campaign["overlap"]
        passed_over: list[int] = []
        while True:
            stmt = (self._open_items(campaign, annotator, now)
                    .order_by(db.items.c.ordinal).limit(1).with_for_update(skip_locked=True))
            if passed_over:
                stmt = stmt.where(db.items.c.id.not_in(passed_over))
            item_id = conn.execute(stmt).scalar_one_or_none()
            if item_id is None:
                return None
            # A fresh statement under the row lock sees every committed lease/answer.
            judged = conn.execute(select(judged_count(item_id))).scalar_one()
            taken = conn.execute(select(func.count()).select_from(db.leases).where(
                db.leases.c.item_id == item_id, db.leases.c.expires_at > now)).scalar_one()
            # Answered, or leased by this annotator's other tab a moment ago (a second
            # lease row would collide with the first).
            mine = conn.execute(select(func.count()).select_from(db.judgments).where(
                db.judgments.c.item_id == item_id,
                db.judgments.c.annotator == annotator.id)).scalar_one()
            mine += conn.execute(select(func.count()).select_from(db.leases).where(
                db.leases.c.item_id == item_id,
                db.leases.c.annotator == annotator.id)).scalar_one()
            if judged + taken < overlap and not mine:
                conn.execute(insert(db.leases).values(
                    item_id=item_id, annotator=annotator.id, campaign_id=campaign["id"],
                    leased_at=now,
                    expires_at=now + dt.timedelta(seconds=campaign["lease_seconds"])))
                return item_id
            passed_over.append(item_id)

    def next(self, annotator: Annotator, campaign_id) -> dict:
        """The item this annotator holds (renewed), else a newly leased one. ``item_id``
        is None when nothing is left for them."""
        # SKIP LOCKED passes over items another transaction holds for a moment (someone
        # answering or leasing them). Near the end those may be the only open items:
        # "nothing left" then would stop this annotator for good while the item still
        # needs them, so wait for the holder's commit (milliseconds) and look again.
        for attempt in range(LOCKED_RETRIES + 1):
            shown = self._next_once(annotator, campaign_id,
                                    last_try=attempt == LOCKED_RETRIES)
            if shown is not None:
                return shown
            time.sleep(LOCKED_RETRY_SECONDS)
        raise AssertionError("unreachable: the last try always answers")

    def _next_once(self, annotator, campaign_id, last_try):
        """`next`'s answer, or None when open items exist but were all locked."""
        now = self.clock()
        with self.store.write() as conn:
            campaign = self._campaign(conn, campaign_id)
            expires = now + dt.timedelta(seconds=campaign["lease_seconds"])
            held = conn.execute(select(db.leases.c.item_id).where(
                db.leases.c.campaign_id == campaign["id"], db.leases.c.annotator == annotator.id,
                db.leases.c.expires_at > now)
                .order_by(db.leases.c.leased_at.desc())).scalars().first()
            if held is not None:
                self._item(conn, campaign, held, lock=True)
                conn.execute(update(db.leases)
                             .where(db.leases.c.item_id == held,
                                    db.leases.c.annotator == annotator.id)
                             .values(expires_at=expires))
                item_id = held
            else:
                conn.execute(delete(db.leases).where(
                    db.leases.c.campaign_id == campaign["id"],
                    db.leases.c.annotator == annotator.id))
                item_id = self._lease_open_item(conn, campaign, annotator, now)
            if item_id is None and not last_try and conn.execute(
                    self._open_items(campaign, annotator, now).limit(1)).first():
                return None  # open, but held by another transaction right now
            if item_id is None:
                summary = self._summary(conn, campaign, annotator)
                return {"campaign_id": campaign["id"], "item_id": None,
                        "message": "Nothing left for you in this campaign: every item has "
                                   "its judgments or is being judged. Thank you!",
                        "progress": summary["progress"]}
            item = self._item(conn, campaign, item_id)
            return self._shown(conn, campaign, item, annotator, expires)

    def _answer(self, annotator, campaign_id, item_id, kind, answers=None, note=None) -> dict:
        now = self.clock()
        try:
            with self.store.write() as conn:
                campaign = self._campaign(conn, campaign_id)
                item = self._item(conn, campaign, item_id, lock=True)
                lease = conn.execute(select(db.leases).where(
                    db.leases.c.item_id == item["id"],
                    db.leases.c.annotator == annotator.id)).one_or_none()
                policies.require_live_lease(lease, item, campaign, now)
                judged = conn.execute(select(judged_count(item["id"]))).scalar_one()
                if kind == "judged" and judged >= campaign["overlap"]:
                    raise NotLeased(f"Item #{item['id']} got all its judgments meanwhile: "
                                    "take the next item.")
                if kind == "judged":
                    answers = checks.answers(self._options(campaign, item), answers)
                note = checks.text(note, "Note", checks.MAX_NOTE)
                judgment_id = conn.execute(insert(db.judgments).values(
                    campaign_id=campaign["id"], item_id=item["id"], annotator=annotator.id,
                    verified=annotator.verified, kind=kind, answers=answers, note=note,
                    leased_at=lease.leased_at, created_at=now)).inserted_primary_key[0]
                conn.execute(delete(db.leases).where(
                    db.leases.c.item_id == item["id"], db.leases.c.annotator == annotator.id))
                progress = self._summary(conn, campaign, annotator)["progress"]
        except IntegrityError:  # the same person answered twice at once: one wins
            raise NotLeased(f"You already answered item #{item_id}.") from None
        return {"judgment_id": judgment_id, "item_id": item["id"], "kind": kind,
                "progress": progress}

    def submit(self, annotator: Annotator, campaign_id, item_id, answers) -> dict:
        """answers: per [MASK] {"accepted": [candidate words], "typed": word or None}."""
        return self._answer(annotator, campaign_id, item_id, "judged", answers)

    def skip(self, annotator: Annotator, campaign_id, item_id) -> dict:
        return self._answer(annotator, campaign_id, item_id, "skipped")

    def flag(self, annotator: Annotator, campaign_id, item_id, note: str = "") -> dict:
        return self._answer(annotator, campaign_id, item_id, "flagged", note=note)

    def undo(self, annotator: Annotator, campaign_id) -> dict:
        """Take back this annotator's latest answer; the item comes back to them, leased,
        with their previous answers in ``previous``. Two undos at once take back one
        answer: the second is refused."""
        now = self.clock()
        try:
            with self.store.write() as conn:
                return self._undo(conn, annotator, campaign_id, now)
        except IntegrityError:  # this annotator's other tab leased the item meanwhile
            raise CampaignError("Your answer was not taken back: another of your tabs "
                                "changed this campaign at the same moment. Try again.") from None

    def _undo(self, conn, annotator, campaign_id, now) -> dict:
        campaign = self._campaign(conn, campaign_id)
        latest = (select(db.judgments).where(db.judgments.c.campaign_id == campaign["id"],
                                             db.judgments.c.annotator == annotator.id)
                  .order_by(db.judgments.c.created_at.desc(), db.judgments.c.id.desc()).limit(1))
        last = conn.execute(latest).one_or_none()
        if last is None:
            raise CampaignError("Nothing to undo: you have not answered anything in "
                                "this campaign.")
        item = self._item(conn, campaign, last.item_id, lock=True)
        # Deleted under the item's lock, by id: 0 rows means a concurrent undo took it.
        if conn.execute(delete(db.judgments).where(db.judgments.c.id == last.id)).rowcount != 1:
            raise CampaignError("That answer was just taken back (an undo from another "
                                "click or tab): nothing more was undone.")
        conn.execute(delete(db.leases).where(db.leases.c.campaign_id == campaign["id"],
                                             db.leases.c.annotator == annotator.id))
        judged = conn.execute(select(judged_count(item["id"]))).scalar_one()
        taken = conn.execute(select(func.count()).select_from(db.leases).where(
            db.leases.c.item_id == item["id"], db.leases.c.expires_at > now)).scalar_one()
        previous = {"kind": last.kind, "answers": last.answers, "note": last.note}
        if judged + taken >= campaign["overlap"]:
            # A skipped item that others finished meanwhile: the skip is taken back,
            # but there is no room left to judge it.
            return {"campaign_id": campaign["id"], "item_id": None,
                    "previous": previous,
                    "message": f"Your {last.kind} answer was taken back; item "
                               f"#{item['id']} has all its judgments meanwhile.",
                    "progress": self._summary(conn, campaign, annotator)["progress"]}
        expires = now + dt.timedelta(seconds=campaign["lease_seconds"])
        conn.execute(insert(db.leases).values(item_id=item["id"], annotator=annotator.id,
                                              campaign_id=campaign["id"], leased_at=now,
                                              expires_at=expires))
        return self._shown(conn, campaign, item, annotator, expires, previous)

    def my_answers(self, annotator: Annotator, campaign_id, limit: int = 50) -> list[dict]:
        """This annotator's own answers of every kind (judged, skipped, flagged), newest
        first; nobody else's."""
        with self.store.read() as conn:
            campaign = self._campaign(conn, campaign_id)
            rows = conn.execute(
                select(db.judgments, db.items.c.text)
                .join(db.items, db.items.c.id == db.judgments.c.item_id)
                .where(db.judgments.c.campaign_id == campaign["id"],
                       db.judgments.c.annotator == annotator.id)
                .order_by(db.judgments.c.created_at.desc(), db.judgments.c.id.desc())
                .limit(limit)).all()
        return [{"item_id": r.item_id, "text": r.text, "kind": r.kind, "answers": r.answers,
                 "note": r.note, "created_at": r.created_at.isoformat()} for r in rows]
