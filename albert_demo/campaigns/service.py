"""Campaigns: create from sentences, hand out items through a leased queue, collect
judgments, measure agreement, settle the gold, export.

    service = CampaignService(store, ModelCache())          # store: AnnotationStore
    alice = Annotator.user("alice", owner=True)
    c = service.create(alice, "Colours", source="sentences.txt", presets=["albert_tiny_en_uncased"],
                       overlap=3, masking={"strategy": "least_sure"})
    item = service.next(bob, c["id"])                          # leased to bob for 10 minutes
    service.submit(bob, c["id"], item["item_id"], [{"accepted": ["blue"], "typed": None}])

Tables live in the annotation store's database (its engine). Every method runs in one
transaction and raises a `CampaignError` (nothing changed) for a person's mistake.

Concurrency: every change to an item's judgments or leases first locks the item's row
(PostgreSQL ``SELECT … FOR UPDATE``; SQLite has one writer at a time) and then reads what
it changes. Leasing picks an open item with ``FOR UPDATE SKIP LOCKED``, then re-counts
under the lock, so an item is never leased to more people than it still needs; ``submit``
needs a lease that has not run out and re-checks the count; ``undo`` re-reads the answer
it takes back under the lock and refuses if another undo took it first; and
``UNIQUE(item, annotator)`` keeps one answer per person per item. Progress is counted from
the judgment rows, never kept in a counter beside them, so it always equals what is stored.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from albert_demo.campaigns import agreement as agree
from albert_demo.campaigns import masking, schema, sources
from albert_demo.campaigns.errors import CampaignError, NotAllowed, NotFound, NotLeased
from albert_demo.campaigns.identity import Annotator
from albert_demo.campaigns.schema import campaigns as C
from albert_demo.campaigns.schema import items as I
from albert_demo.campaigns.schema import judgments as J
from albert_demo.campaigns.schema import leases as L
from albert_demo.engine.errors import InputError, whole_number
from albert_demo.masks import MASK, fill_masks

DEFAULT_LEASE_SECONDS = 600
# `next` waits up to 100 x 20 ms for open items another transaction holds for a moment.
LOCKED_RETRIES = 100
LOCKED_RETRY_SECONDS = 0.02
MAX_WORD = 100
MAX_NOTE = 2000
MAX_GUIDELINES = 10000
PREDICT_CHUNK = 16


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _bounded(value, name, low, high):
    value = whole_number(value, name)
    if not low <= value <= high:
        raise CampaignError(f"{name} must be between {low} and {high}, not {value}.")
    return value


def _row_id(value, what) -> int:
    try:
        value = whole_number(value, f"{what} id")
    except InputError as e:
        raise NotFound(str(e)) from None
    if not 1 <= value < 2**63:
        raise NotFound(f"No {what} #{value}.")
    return value


def _text(value, name, limit, required=False):
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise CampaignError(f"{name} is required.")
        return None
    if not isinstance(value, str):
        raise CampaignError(f"{name} must be text, not {type(value).__name__}.")
    if re.search(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]", value):
        raise CampaignError(f"{name} contains control or invalid characters; remove them.")
    value = value.strip()
    if len(value) > limit:
        raise CampaignError(f"{name} is {len(value)} characters; at most {limit} are accepted.")
    return value


def _judged_count(item_id):
    """How many judgments (not skips or flags) an item has: counted from the rows."""
    return (select(func.count()).select_from(J)
            .where(J.c.item_id == item_id, J.c.kind == "judged").scalar_subquery())


def _duration(seconds: int) -> str:
    return f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} seconds"


def _shown_name(annotator_id: str) -> str:
    return annotator_id.split(":", 1)[1] if ":" in annotator_id else annotator_id


class CampaignService:
    def __init__(self, store, model_cache, *, lease_seconds: int = DEFAULT_LEASE_SECONDS,
                 clock=utcnow, owners=frozenset()):
        """store: an `AnnotationStore` (its engine holds the tables); model_cache: anything
        with ``get(preset)`` returning a predictor (`predict_batch(texts, top_k)`); owners:
        logins (users-file names, Hugging Face usernames) that may create campaigns; none
        named: anyone may (see `identity.from_request`)."""
        self.store = store
        self.owners = frozenset(owners)
        self.engine = store.engine
        self.cache = model_cache
        self.lease_seconds = int(lease_seconds)
        self.clock = clock
        with self._write() as conn:
            schema.migrate(conn)

    # ------------------------------------------------------------ transactions
    # The annotation store's own transactions, on the same database: committed on normal
    # exit, rolled back on any error; one SQLite writer at a time in this process (campaign
    # and annotation writes queue on the one lock); a full disk said in one message.
    def _write(self):
        return self.store._write()

    def _read(self):
        return self.store._read()

    # ------------------------------------------------------------ lookups
    def _campaign(self, conn, campaign_id) -> dict:
        campaign_id = _row_id(campaign_id, "campaign")
        row = conn.execute(select(C).where(C.c.id == campaign_id)).one_or_none()
        if row is None:
            raise NotFound(f"No campaign #{campaign_id}: pick one from the list.")
        return dict(row._mapping)

    @staticmethod
    def _owned(campaign, annotator: Annotator, action: str) -> None:
        if campaign["owner"] != annotator.id:
            raise NotAllowed(f"Only the owner of campaign #{campaign['id']} "
                             f"({_shown_name(campaign['owner'])}) may {action}.")

    def _item(self, conn, campaign, item_id, lock=False) -> dict:
        item_id = _row_id(item_id, "item")
        stmt = select(I).where(I.c.id == item_id, I.c.campaign_id == campaign["id"])
        row = conn.execute(stmt.with_for_update() if lock else stmt).one_or_none()
        if row is None:
            raise NotFound(f"No item #{item_id} in campaign #{campaign['id']}.")
        return dict(row._mapping)

    # ------------------------------------------------------------ create
    def create(self, annotator: Annotator, name: str, *, source: Any = None,
               fmt: str | None = None, annotations: list | None = None,
               presets=("albert_tiny_en_uncased",), top_k: int = 5, overlap: int = 3,
               guidelines: str = "", masking: dict | None = None,
               lease_seconds: int | None = None, seed: int | None = None) -> dict:
        """A campaign from a file (.txt/.csv/.jsonl/datasets folder; path or bytes with
        ``fmt``) or from annotation rows. Sentences without [MASK] get masks from
        ``masking = {"strategy": "random"|"words"|"least_sure", "per_sentence": 1,
        "words": [...]}``. Returns the campaign summary."""
        if not annotator.may_create:
            raise NotAllowed(f"{annotator.name} may annotate but not create campaigns: "
                             "ask an owner (':owner' in the users file).")
        name = _text(name, "Campaign name", 200, required=True)
        if isinstance(presets, str):
            presets = [p.strip() for p in presets.split(",") if p.strip()]
        presets = list(dict.fromkeys(presets or []))
        if not 1 <= len(presets) <= 2 or not all(isinstance(p, str) for p in presets):
            raise CampaignError("Choose one preset, or two to compare them blind.")
        top_k = _bounded(top_k, "top_k", 1, 20)
        overlap = _bounded(overlap, "Judgments per item", 1, 20)
        lease_seconds = _bounded(self.lease_seconds if lease_seconds is None else
                                 lease_seconds, "Lease seconds", 10, 86400)
        guidelines = _text(guidelines, "Guidelines", MAX_GUIDELINES) or ""
        if (source is None) == (annotations is None):
            raise CampaignError("Give either a file or annotation rows to build items from.")
        records = (sources.from_annotations(annotations) if annotations is not None
                   else sources.read_file(source, fmt))
        predictors = [self.cache.get(p) for p in presets]
        records, made = self._masked(records, masking, predictors[0], seed)
        predictions = self._predict(records, presets, predictors, top_k)
        rng = random.Random(seed)
        now = self.clock()
        with self._write() as conn:
            campaign_id = conn.execute(insert(C).values(
                name=name, owner=annotator.id, created_at=now, presets=presets, top_k=top_k,
                overlap=overlap, guidelines=guidelines, lease_seconds=lease_seconds,
                source={"kind": "annotations" if annotations is not None else "file",
                        "masking": made})).inserted_primary_key[0]
            conn.execute(insert(I), [
                {"campaign_id": campaign_id, "ordinal": n, "text": r["text"],
                 "reference": r["reference"] or [None] * r["text"].count(MASK),
                 "predictions": p, "swap": len(presets) == 2 and rng.random() < 0.5}
                for n, (r, p) in enumerate(zip(records, predictions))])
        return self.get(annotator, campaign_id)

    @staticmethod
    def _masked(records, settings, predictor, seed):
        """Masks for sentences that have none; returns (records, what was done)."""
        bare = [n for n, r in enumerate(records) if MASK not in r["text"]]
        if not bare:
            return records, None
        if not settings or not settings.get("strategy"):
            raise CampaignError(f"Sentence {bare[0] + 1} has no {MASK}: add one, or choose "
                                "a mask strategy (random, words, least_sure).")
        per = whole_number(settings.get("per_sentence", 1), "Masks per sentence")
        word_list = settings.get("words") or []
        if isinstance(word_list, str):
            word_list = re.split(r"[,\s]+", word_list)
        made = masking.make_masks([records[n]["text"] for n in bare], settings["strategy"],
                                  per, word_list, predictor, seed or 0)
        out, dropped = list(records), set()
        for n, result in zip(bare, made):
            if result is None:
                dropped.add(n)
            else:
                out[n] = {"text": result[0], "reference": result[1]}
        out = [r for n, r in enumerate(out) if n not in dropped]
        if not out:
            raise CampaignError("The mask strategy found no word to mask in any sentence.")
        return out, {"strategy": settings["strategy"], "per_sentence": per,
                     "sentences_without_a_maskable_word": len(dropped)}

    @staticmethod
    def _predict(records, presets, predictors, top_k):
        """{preset: [[{"token", "score"}, ...] per mask]} per record; names a bad sentence."""
        out = [{} for _ in records]
        for preset, predictor in zip(presets, predictors):
            for start in range(0, len(records), PREDICT_CHUNK):
                chunk = records[start:start + PREDICT_CHUNK]
                try:
                    results = predictor.predict_batch([r["text"] for r in chunk], top_k)
                except InputError:
                    for n, r in enumerate(chunk, start + 1):  # find the sentence to blame
                        try:
                            predictor.predict(r["text"], top_k)
                        except InputError as e:
                            raise CampaignError(f"Sentence {n}: {e}") from None
                    raise
                for row, result in zip(out[start:], results):
                    row[preset] = [[{"token": p["token"], "score": round(p["score"], 6)}
                                    for p in m["predictions"]] for m in result["masks"]]
        return out

    # ------------------------------------------------------------ reading
    def _summary(self, conn, campaign, annotator) -> dict:
        n_items = conn.execute(select(func.count()).select_from(I).where(
            I.c.campaign_id == campaign["id"])).scalar_one()
        judged = conn.execute(select(func.count()).select_from(J).where(
            J.c.campaign_id == campaign["id"], J.c.kind == "judged")).scalar_one()
        yours = conn.execute(select(func.count()).where(
            J.c.campaign_id == campaign["id"], J.c.annotator == annotator.id,
            J.c.kind == "judged")).scalar_one()
        needed = n_items * campaign["overlap"]
        return {"id": campaign["id"], "name": campaign["name"],
                "owner": _shown_name(campaign["owner"]),
                "you_own_it": campaign["owner"] == annotator.id,
                "created_at": campaign["created_at"].isoformat(),
                "presets": campaign["presets"], "top_k": campaign["top_k"],
                "overlap": campaign["overlap"], "guidelines": campaign["guidelines"],
                "lease_seconds": campaign["lease_seconds"], "items": n_items,
                "source": campaign["source"],
                "progress": {"yours": yours, "judged": int(judged), "needed": needed,
                             "text": f"yours {yours} · campaign {int(judged)} of {needed} "
                                     "judgments"}}

    def get(self, annotator: Annotator, campaign_id) -> dict:
        with self._read() as conn:
            return self._summary(conn, self._campaign(conn, campaign_id), annotator)

    def list(self, annotator: Annotator) -> list[dict]:
        with self._read() as conn:
            rows = conn.execute(select(C).order_by(C.c.id.desc())).all()
            return [self._summary(conn, dict(r._mapping), annotator) for r in rows]

    def progress(self, annotator: Annotator, campaign_id) -> dict:
        return self.get(annotator, campaign_id)["progress"]

    # ------------------------------------------------------------ the queue
    @staticmethod
    def _columns(campaign, item) -> list[str]:
        presets = list(campaign["presets"])
        return presets[::-1] if item["swap"] else presets

    def _options(self, campaign, item) -> list[list[str]]:
        """Per mask: the candidate words shown, in display order, without repeats."""
        columns = [item["predictions"][p] for p in self._columns(campaign, item)]
        return [list(dict.fromkeys(agree.norm(p["token"]) for col in columns
                                   for p in col[mask] if agree.norm(p["token"])))
                for mask in range(item["text"].count(MASK))]

    def _shown(self, conn, campaign, item, annotator, lease_expires, previous=None) -> dict:
        columns = self._columns(campaign, item)
        labels = "AB" if len(columns) == 2 else [""]
        options = self._options(campaign, item)
        masks = [{"mask": m, "options": options[m],
                  "columns": [{"label": label, "words": [
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
        active = (select(func.count()).select_from(L)
                  .where(L.c.item_id == I.c.id, L.c.expires_at > now).scalar_subquery())
        answered = exists().where(J.c.item_id == I.c.id, J.c.annotator == annotator.id)
        judged = _judged_count(I.c.id)
        return (select(I.c.id)
                .where(I.c.campaign_id == campaign["id"], judged < overlap,
                       ~answered, judged + active < overlap))

    def _lease_open_item(self, conn, campaign, annotator, now):
        """Lock an item this annotator may take, re-count under the lock, lease it."""
        overlap = campaign["overlap"]
        passed_over: list[int] = []
        while True:
            stmt = (self._open_items(campaign, annotator, now)
                    .order_by(I.c.ordinal).limit(1).with_for_update(skip_locked=True))
            if passed_over:
                stmt = stmt.where(I.c.id.not_in(passed_over))
            item_id = conn.execute(stmt).scalar_one_or_none()
            if item_id is None:
                return None
            # A fresh statement under the row lock sees every committed lease/answer.
            judged = conn.execute(select(_judged_count(item_id))).scalar_one()
            taken = conn.execute(select(func.count()).select_from(L).where(
                L.c.item_id == item_id, L.c.expires_at > now)).scalar_one()
            # Answered, or leased by this annotator's other tab a moment ago (a second
            # lease row would collide with the first).
            mine = conn.execute(select(func.count()).select_from(J).where(
                J.c.item_id == item_id, J.c.annotator == annotator.id)).scalar_one()
            mine += conn.execute(select(func.count()).select_from(L).where(
                L.c.item_id == item_id, L.c.annotator == annotator.id)).scalar_one()
            if judged + taken < overlap and not mine:
                conn.execute(insert(L).values(
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
        with self._write() as conn:
            campaign = self._campaign(conn, campaign_id)
            expires = now + dt.timedelta(seconds=campaign["lease_seconds"])
            held = conn.execute(select(L.c.item_id).where(
                L.c.campaign_id == campaign["id"], L.c.annotator == annotator.id,
                L.c.expires_at > now).order_by(L.c.leased_at.desc())).scalars().first()
            if held is not None:
                self._item(conn, campaign, held, lock=True)
                conn.execute(update(L).where(L.c.item_id == held,
                                             L.c.annotator == annotator.id)
                             .values(expires_at=expires))
                item_id = held
            else:
                conn.execute(delete(L).where(L.c.campaign_id == campaign["id"],
                                             L.c.annotator == annotator.id))
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

    def _checked_answers(self, campaign, item, answers) -> list[dict]:
        options = self._options(campaign, item)
        if isinstance(answers, dict) and "masks" in answers:
            answers = answers["masks"]
        if not isinstance(answers, list) or len(answers) != len(options):
            raise CampaignError(f"Give one answer per [MASK]: this item has {len(options)}, "
                                "each {\"accepted\": [words], \"typed\": word or null, "
                                "\"none_fit\": true or false}.")
        out = []
        for m, answer in enumerate(answers):
            if isinstance(answer, list):
                answer = {"accepted": answer}
            if not isinstance(answer, dict) or set(answer) - {"accepted", "typed", "none_fit"}:
                raise CampaignError(f"Answer {m + 1} must be {{\"accepted\": [words], "
                                    "\"typed\": word or null, \"none_fit\": true or false}.")
            accepted = answer.get("accepted") or []
            if not isinstance(accepted, list) or not all(isinstance(w, str) for w in accepted):
                raise CampaignError(f"Answer {m + 1}: 'accepted' must be a list of words.")
            accepted = list(dict.fromkeys(agree.norm(w) for w in accepted if agree.norm(w)))
            unknown = [w for w in accepted if w not in options[m]]
            if unknown:
                raise CampaignError(f"Answer {m + 1}: {unknown[0]!r} was not a candidate for "
                                    f"this mask; type it as the right word instead.")
            typed = _text(answer.get("typed"), f"Answer {m + 1}'s typed word", MAX_WORD)
            if typed and "\n" in typed:
                raise CampaignError(f"Answer {m + 1}: the typed word is one line.")
            none_fit = answer.get("none_fit") in (True, "true", 1)
            if none_fit and (accepted or typed):
                raise CampaignError(f"Answer {m + 1}: 'none of these fit' and a word at once; "
                                    "choose one.")
            if not (accepted or typed or none_fit):
                raise CampaignError(f"Answer {m + 1} is empty: tick the words that fit, type "
                                    "the right one, or choose 'none of these fit'.")
            out.append({"accepted": accepted, "typed": typed} if not none_fit else
                       {"accepted": [], "typed": None, "none_fit": True})
        return out

    def _answer(self, annotator, campaign_id, item_id, kind, answers=None, note=None) -> dict:
        now = self.clock()
        try:
            with self._write() as conn:
                campaign = self._campaign(conn, campaign_id)
                item = self._item(conn, campaign, item_id, lock=True)
                lease = conn.execute(select(L).where(
                    L.c.item_id == item["id"], L.c.annotator == annotator.id)).one_or_none()
                if lease is None:
                    raise NotLeased(f"Item #{item['id']} is not leased to you (it was never "
                                    "handed to you, or you answered it already): take the "
                                    "next item.")
                if lease.expires_at <= now:  # someone else may hold it now
                    raise NotLeased(f"Your lease on item #{item['id']} ran out (leases last "
                                    f"{_duration(campaign['lease_seconds'])}) and the item "
                                    "may have gone to someone else: take the next item.")
                judged = conn.execute(select(_judged_count(item["id"]))).scalar_one()
                if kind == "judged" and judged >= campaign["overlap"]:
                    raise NotLeased(f"Item #{item['id']} got all its judgments meanwhile: "
                                    "take the next item.")
                if kind == "judged":
                    answers = self._checked_answers(campaign, item, answers)
                note = _text(note, "Note", MAX_NOTE)
                judgment_id = conn.execute(insert(J).values(
                    campaign_id=campaign["id"], item_id=item["id"], annotator=annotator.id,
                    verified=annotator.verified, kind=kind, answers=answers, note=note,
                    leased_at=lease.leased_at, created_at=now)).inserted_primary_key[0]
                conn.execute(delete(L).where(L.c.item_id == item["id"],
                                             L.c.annotator == annotator.id))
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
            with self._write() as conn:
                return self._undo(conn, annotator, campaign_id, now)
        except IntegrityError:  # this annotator's other tab leased the item meanwhile
            raise CampaignError("Your answer was not taken back: another of your tabs "
                                "changed this campaign at the same moment. Try again.") from None

    def _undo(self, conn, annotator, campaign_id, now) -> dict:
        campaign = self._campaign(conn, campaign_id)
        latest = (select(J).where(J.c.campaign_id == campaign["id"],
                                  J.c.annotator == annotator.id)
                  .order_by(J.c.created_at.desc(), J.c.id.desc()).limit(1))
        last = conn.execute(latest).one_or_none()
        if last is None:
            raise CampaignError("Nothing to undo: you have not answered anything in "
                                "this campaign.")
        item = self._item(conn, campaign, last.item_id, lock=True)
        # Read again under the item's lock: a concurrent undo may have taken it back.
        if conn.execute(delete(J).where(J.c.id == last.id)).rowcount != 1:
            raise CampaignError("That answer was just taken back (an undo from another "
                                "click or tab): nothing more was undone.")
        conn.execute(delete(L).where(L.c.campaign_id == campaign["id"],
                                     L.c.annotator == annotator.id))
        judged = conn.execute(select(_judged_count(item["id"]))).scalar_one()
        taken = conn.execute(select(func.count()).select_from(L).where(
            L.c.item_id == item["id"], L.c.expires_at > now)).scalar_one()
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
        conn.execute(insert(L).values(item_id=item["id"], annotator=annotator.id,
                                      campaign_id=campaign["id"], leased_at=now,
                                      expires_at=expires))
        return self._shown(conn, campaign, item, annotator, expires, previous)

    def mine(self, annotator: Annotator, campaign_id, limit: int = 50) -> list[dict]:
        """This annotator's own answers, newest first (nobody else's)."""
        with self._read() as conn:
            campaign = self._campaign(conn, campaign_id)
            rows = conn.execute(select(J, I.c.text).join(I, I.c.id == J.c.item_id).where(
                J.c.campaign_id == campaign["id"], J.c.annotator == annotator.id)
                .order_by(J.c.created_at.desc(), J.c.id.desc()).limit(limit)).all()
        return [{"item_id": r.item_id, "text": r.text, "kind": r.kind, "answers": r.answers,
                 "note": r.note, "created_at": r.created_at.isoformat()} for r in rows]

    # ------------------------------------------------------------ owner: agreement, review
    def _items_with_judgments(self, conn, campaign) -> list[dict]:
        rows = conn.execute(select(I).where(I.c.campaign_id == campaign["id"])
                            .order_by(I.c.ordinal)).all()
        answers = conn.execute(select(J).where(J.c.campaign_id == campaign["id"])
                               .order_by(J.c.created_at, J.c.id)).all()
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

    def agreement(self, annotator: Annotator, campaign_id) -> dict:
        """Owner only: percent agreement, Krippendorff's alpha, per-annotator agreement with
        the majority of the others, model top-1 accuracy against the gold so far (the unit
        and coding: `agreement`)."""
        with self._read() as conn:
            campaign = self._campaign(conn, campaign_id)
            self._owned(campaign, annotator, "see its agreement figures")
            items = self._items_with_judgments(conn, campaign)
        figures = agree.figures([self._for_agreement(i) for i in items], campaign["presets"])
        for row in figures["annotators"]:
            row["annotator"] = _shown_name(row["annotator"])
        return {"campaign_id": campaign["id"], **figures}

    def dashboard(self, annotator: Annotator, campaign_id) -> dict:
        """Owner only: what the dashboard plots (cumulative judgments over time, per
        annotator counts), the agreement figures, and the leases held now (``blocking``:
        the item has no room for anyone else until the lease is answered or runs out)."""
        now = self.clock()
        with self._read() as conn:
            campaign = self._campaign(conn, campaign_id)
            self._owned(campaign, annotator, "see its dashboard")
            rows = conn.execute(select(J.c.created_at, J.c.annotator).where(
                J.c.campaign_id == campaign["id"], J.c.kind == "judged")
                .order_by(J.c.created_at, J.c.id)).all()
            needed = self._summary(conn, campaign, annotator)["progress"]["needed"]
            other = L.alias("other")
            active = conn.execute(
                select(L.c.item_id, L.c.annotator, L.c.expires_at,
                       _judged_count(L.c.item_id).label("judged"),
                       select(func.count()).select_from(other)
                       .where(other.c.item_id == L.c.item_id, other.c.expires_at > now)
                       .scalar_subquery().label("leased"))
                .where(L.c.campaign_id == campaign["id"], L.c.expires_at > now)
                .order_by(L.c.expires_at)).all()
        per: dict[str, int] = {}
        for r in rows:
            per[_shown_name(r.annotator)] = per.get(_shown_name(r.annotator), 0) + 1
        leases = [{"item_id": r.item_id, "annotator": _shown_name(r.annotator),
                   "expires_at": r.expires_at.isoformat(),
                   "blocking": r.judged + r.leased >= campaign["overlap"]} for r in active]
        return {"timeline": [[r.created_at.isoformat(), n] for n, r in enumerate(rows, 1)],
                "needed": needed, "per_annotator": per, "leases": leases,
                "agreement": self.agreement(annotator, campaign_id)}

    def review(self, annotator: Annotator, campaign_id, limit: int = 50) -> list[dict]:
        """Owner only: items where annotators disagree, none won a majority, or someone
        flagged; unsettled ones first, then the least agreement. Per item: its agreement
        (share of agreeing pairs, per mask, averaged) and per mask the votes per word."""
        limit = _bounded(limit, "limit", 1, 1000)
        with self._read() as conn:
            campaign = self._campaign(conn, campaign_id)
            self._owned(campaign, annotator, "review it")
            items = self._items_with_judgments(conn, campaign)
        out = []
        for item in items:
            plain = self._for_agreement(item)
            flags = [j for j in item["all"] if j.kind == "flagged"]
            if not item["judgments"] and not flags:
                continue
            gold = agree.gold(plain)
            unsettled = any(word is None for word, _ in gold)
            agreement = agree.item_agreement(plain)
            disagreeing = agreement is not None and agreement < 1
            if not (flags or disagreeing or (unsettled and len(item["judgments"]) >= 2)):
                continue
            out.append({
                "item_id": item["id"], "text": item["text"], "options": item["options"],
                "reference": item["reference"], "gold": [w for w, _ in gold],
                "gold_source": [s for _, s in gold], "agreement": agreement,
                "votes": [agree.votes(plain, m) for m in range(len(item["options"]))],
                "judged": len(item["judgments"]), "unsettled": unsettled,
                "judgments": [{"annotator": _shown_name(j.annotator), "kind": j.kind,
                               "answers": j.answers, "note": j.note} for j in item["all"]]})
        out.sort(key=lambda r: (not r["unsettled"], 1.0 if r["agreement"] is None
                                else r["agreement"], r["item_id"]))
        return out[:limit]

    def adjudicate(self, annotator: Annotator, campaign_id, item_id, gold,
                   confirm_own_word: bool = False) -> dict:
        """Owner only: settle the gold word of each [MASK] (None leaves one to the
        majority). A word no annotator picked there is refused unless
        ``confirm_own_word``; it is then recorded as the owner's own (source "owner")."""
        now = self.clock()
        with self._write() as conn:
            campaign = self._campaign(conn, campaign_id)
            self._owned(campaign, annotator, "adjudicate")
            item = self._item(conn, campaign, item_id, lock=True)
            n = item["text"].count(MASK)
            if isinstance(gold, str):
                gold = [gold]
            if not isinstance(gold, list) or len(gold) != n:
                raise CampaignError(f"Give one gold word per [MASK]: item #{item['id']} "
                                    f"has {n}.")
            gold = [agree.norm(_text(g, f"Gold word {m + 1}", MAX_WORD))
                    for m, g in enumerate(gold)]
            answers = conn.execute(select(J.c.answers).where(
                J.c.item_id == item["id"], J.c.kind == "judged")).scalars().all()
            sources = []
            for m, word in enumerate(gold):
                chosen = set().union(*(agree.picked(a[m]) for a in answers))
                if word is None or word in chosen:
                    sources.append("adjudicated" if word else None)
                elif confirm_own_word:
                    sources.append("owner")
                else:
                    raise CampaignError(
                        f"No annotator picked {word!r} for [MASK {m + 1}] of item "
                        f"#{item['id']} (they picked: {', '.join(sorted(chosen)) or 'nothing'}"
                        "). Confirm to record it as your own word.")
            conn.execute(update(I).where(I.c.id == item["id"]).values(
                gold=gold, gold_source=sources, gold_by=annotator.id, gold_at=now))
        return {"item_id": item["id"], "gold": gold, "gold_source": sources}

    def _gold_items(self, annotator, campaign_id, action):
        with self._read() as conn:
            campaign = self._campaign(conn, campaign_id)
            self._owned(campaign, annotator, action)
            items = self._items_with_judgments(conn, campaign)
        return campaign, [(i["text"], [w for w, _ in agree.gold(self._for_agreement(i))])
                          for i in items]

    def evaluate(self, annotator: Annotator, campaign_id, presets) -> list[dict]:
        """Owner only: top-1 / top-5 of each preset against the campaign's gold so far, one
        row per gold mask (the item's other masks filled with their gold words)."""
        from albert_demo.services.evaluation import evaluate_model

        campaign, golds = self._gold_items(annotator, campaign_id, "evaluate on its gold")
        items = []
        for text, words in golds:
            if None in words:
                continue
            for m, word in enumerate(words):
                items.append((fill_masks(text, words[:m] + [MASK] + words[m + 1:]), word))
        if not items:
            raise CampaignError("No item has a gold word for every [MASK] yet: collect "
                                "judgments or settle some in the review.")
        presets = [p for p in (presets or campaign["presets"]) if p]
        return [evaluate_model(self.cache.get(p), items) for p in presets]

    def gold_texts(self, annotator: Annotator, campaign_id) -> str:
        """Owner only: every item whose masks all have gold, filled in, one per line: a
        text file the Fine-tune tab accepts."""
        _, golds = self._gold_items(annotator, campaign_id, "download its gold sentences")
        lines = [fill_masks(text, words) for text, words in golds if None not in words]
        if not lines:
            raise CampaignError("No item has a gold word for every [MASK] yet.")
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------ output
    def export(self, annotator: Annotator, campaign_id, out_dir) -> dict:
        """Owner only: a `datasets`-loadable folder (configs "gold" and "judgments", a
        dataset card with the agreement figures) and a zip of it."""
        from albert_demo.campaigns import export

        with self._read() as conn:
            campaign = self._campaign(conn, campaign_id)
            self._owned(campaign, annotator, "export it")
            items = self._items_with_judgments(conn, campaign)
        figures = agree.figures([self._for_agreement(i) for i in items], campaign["presets"])
        return export.write(campaign, items, figures, out_dir)

    def push_to_hub(self, annotator: Annotator, campaign_id, repo_id: str, token: str,
                    out_dir, *, private: bool = True, endpoint: str | None = None) -> dict:
        """Owner only: export, then upload the folder as a dataset repository."""
        from albert_demo.campaigns import export

        written = self.export(annotator, campaign_id, out_dir)
        return export.push(written["folder"], repo_id, token, private=private,
                           endpoint=endpoint)
