"""The queue on both backends: create, next, submit, skip, flag, undo, leases, bad requests."""

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from albert_demo.campaigns import CampaignError, NotAllowed, NotFound, NotLeased
from albert_demo.campaigns import schema
from albert_demo.engine.errors import InputError
from tests.campaigns.conftest import OWNER, people

SENTENCES = "\n".join(f"Sentence {i} is [MASK]." for i in range(6)).encode()


def create(service, data=SENTENCES, fmt="txt", **kw):
    kw.setdefault("presets", ["fake"])
    kw.setdefault("overlap", 2)
    return service.create(OWNER, "Colours", source=data, fmt=fmt, **kw)


def counts(service):
    with service.engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (schema.campaigns, schema.items, schema.judgments, schema.leases)}


def test_create_next_submit_skip_flag_undo(service):
    c = create(service)
    assert c["items"] == 6 and c["progress"]["text"] == "yours 0 · campaign 0 of 12 judgments"
    ann, other = people(2)
    item = service.next(ann, c["id"])
    assert item["text"] == "Sentence 0 is [MASK]."
    assert item["masks"][0]["options"][:2] == ["blue", "grey"]
    assert service.next(ann, c["id"])["item_id"] == item["item_id"]  # resumes its lease
    done = service.submit(ann, c["id"], item["item_id"],
                          [{"accepted": ["blue", "grey"], "typed": None}])
    assert done["progress"]["text"] == "yours 1 · campaign 1 of 12 judgments"

    second = service.next(ann, c["id"])
    assert second["item_id"] != item["item_id"]
    service.skip(ann, c["id"], second["item_id"])
    third = service.next(ann, c["id"])
    service.flag(ann, c["id"], third["item_id"], "Not a real sentence")
    assert [m["kind"] for m in service.my_answers(ann, c["id"])] == ["flagged", "skipped", "judged"]

    back = service.undo(ann, c["id"])  # the flag comes back, leased again
    assert back["item_id"] == third["item_id"]
    assert back["previous"] == {"kind": "flagged", "answers": None,
                                "note": "Not a real sentence"}
    service.undo(ann, c["id"])  # the skip
    again = service.undo(ann, c["id"])  # the judgment: the campaign count goes back down
    assert again["item_id"] == item["item_id"]
    assert again["previous"]["answers"] == [{"accepted": ["blue", "grey"], "typed": None}]
    assert again["progress"]["judged"] == 0
    service.submit(ann, c["id"], again["item_id"], [{"accepted": [], "typed": "Azure"}])
    with pytest.raises(CampaignError, match="Nothing to undo"):
        service.undo(other, c["id"])
    assert service.my_answers(ann, c["id"])[0]["answers"] == [{"accepted": [], "typed": "Azure"}]
    assert service.my_answers(other, c["id"]) == []  # nobody else's answers


def test_overlap_and_distinct_people(service):
    c = create(service, b"Only [MASK] one.\n", overlap=2)
    a, b, d = people(3)
    item_a = service.next(a, c["id"])
    item_b = service.next(b, c["id"])
    assert item_a["item_id"] == item_b["item_id"]
    assert service.next(d, c["id"])["item_id"] is None  # two leases = two wanted
    service.submit(a, c["id"], item_a["item_id"], [["blue"]])
    assert service.next(a, c["id"])["item_id"] is None  # never the same item twice
    service.submit(b, c["id"], item_b["item_id"], [["grey"]])
    assert service.next(d, c["id"])["item_id"] is None
    assert service.get(OWNER, c["id"])["progress"]["judged"] == 2


def test_leases_expire(open_service):
    now = [dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)]
    service = open_service(clock=lambda: now[0])
    c = create(service, b"Only [MASK] one.\n", overlap=1, lease_seconds=60)
    slow, fast = people(2)
    item = service.next(slow, c["id"])
    assert service.next(fast, c["id"])["item_id"] is None
    now[0] += dt.timedelta(seconds=61)  # the slow tab was abandoned
    assert service.next(fast, c["id"])["item_id"] == item["item_id"]
    service.submit(fast, c["id"], item["item_id"], [["blue"]])
    with pytest.raises(NotLeased, match="ran out"):
        service.submit(slow, c["id"], item["item_id"], [["grey"]])
    assert service.get(OWNER, c["id"])["progress"]["judged"] == 1


def test_two_presets_blind(service):
    c = service.create(OWNER, "Blind", source=SENTENCES, fmt="txt", presets=["fake", "other"],
                       overlap=1, top_k=3, seed=3)
    orders = set()
    ann = people(1)[0]
    for _ in range(6):
        item = service.next(ann, c["id"])
        columns = item["masks"][0]["columns"]
        assert [col["label"] for col in columns] == ["A", "B"]
        assert "fake" not in json.dumps(item) and "other" not in json.dumps(item)
        orders.add(columns[0]["words"][0])
        service.submit(ann, c["id"], item["item_id"], [[columns[1]["words"][0]]])
    assert orders == {"blue", "pink"} or orders == {"blue", "red"}  # both orders occur


def test_bad_requests_change_nothing(service):
    c = create(service)
    ann, other = people(2)
    item = service.next(ann, c["id"])
    before = counts(service)
    bad = [
        (CampaignError, "binary", lambda: create(service, b"\x00\x01", "txt")),
        (CampaignError, "Unsupported file type", lambda: create(service, b"x", "xlsx")),
        (CampaignError, "'text' column", lambda: create(service, b"sentence\nA [MASK].\n",
                                                        "csv")),
        (CampaignError, r"line 2: 1 gold word\(s\) for 2", lambda: create(
            service, b'{"text": "A [MASK]."}\n{"text": "[MASK] [MASK].", "gold": "x"}\n',
            "jsonl")),
        (CampaignError, "line 1: invalid JSON", lambda: create(service, b"{", "jsonl")),
        (CampaignError, "Sentence 2 has no", lambda: create(
            service, b"A [MASK].\nNo mask\n", masking={"strategy": "none"})),
        (CampaignError, "Sentence 1: The text is too long", lambda: create(
            service, ("word " * 80 + "[MASK].").encode())),
        (CampaignError, "between 1 and 20", lambda: create(service, overlap=0)),
        (InputError, "Unknown preset", lambda: create(service, presets=["nope"])),
        (NotAllowed, "may annotate but not create", lambda: service.create(
            ann, "x", source=SENTENCES, fmt="txt", presets=["fake"])),
        (NotFound, "No campaign #999", lambda: service.next(ann, 999)),
        (NotFound, "campaign id must be a whole number", lambda: service.next(ann, "x; --")),
        (NotFound, "No item #999", lambda: service.submit(ann, c["id"], 999, [["blue"]])),
        (NotLeased, "not leased to you", lambda: service.submit(
            other, c["id"], item["item_id"], [["blue"]])),
        (NotLeased, "not leased to you", lambda: service.skip(other, c["id"], item["item_id"])),
        (CampaignError, "'purple' was not a candidate", lambda: service.submit(
            ann, c["id"], item["item_id"], [["purple"]])),
        (CampaignError, "one answer per", lambda: service.submit(
            ann, c["id"], item["item_id"], [["blue"], ["grey"]])),
        (CampaignError, "control", lambda: service.submit(
            ann, c["id"], item["item_id"], [{"accepted": [], "typed": "a\x00b"}])),
        (NotAllowed, "Only the owner", lambda: service.adjudicate(
            ann, c["id"], item["item_id"], ["blue"])),
        (NotAllowed, "Only the owner", lambda: service.agreement(ann, c["id"])),
        (NotAllowed, "Only the owner", lambda: service.review(ann, c["id"])),
        (NotAllowed, "Only the owner", lambda: service.export(ann, c["id"], "/tmp/nowhere")),
        (CampaignError, "one gold word per", lambda: service.adjudicate(
            OWNER, c["id"], item["item_id"], ["a", "b"])),
    ]
    for error, message, call in bad:
        with pytest.raises(error, match=message):
            call()
        assert counts(service) == before, message
    assert issubclass(CampaignError, ValueError)  # InputError: shown to people as is


def test_sources_csv_jsonl_and_gold(service):
    csv_data = b'text,gold\n"The sky is [MASK].",blue\n"[MASK] and [MASK].","salt|pepper"\n'
    c = create(service, csv_data, "csv", overlap=1)
    jsonl = b'{"text": "The sky is [MASK].", "gold": ["blue"]}\n\n{"text": "Hi [MASK]."}\n'
    d = create(service, jsonl, "jsonl", overlap=1)
    assert (c["items"], d["items"]) == (2, 2)
    ann = people(1)[0]
    first = service.next(ann, c["id"])
    assert "reference" not in first and "blue" not in json.dumps(first["masks"][0]["columns"][1:])


def test_masking_strategies(service):
    text = b"Cats sleep on warm mats.\nDogs bark at night.\n"
    random_c = create(service, text, masking={"strategy": "random", "per_sentence": 2}, seed=1)
    words_c = create(service, text, masking={"strategy": "words", "words": "warm, night"})
    assert random_c["items"] == 2 and random_c["source"]["masking"]["strategy"] == "random"
    ann = people(1)[0]
    seen = service.next(ann, words_c["id"])["text"]
    assert seen == "Cats sleep on [MASK] mats."
    with pytest.raises(CampaignError, match="found no word"):
        create(service, text, masking={"strategy": "words", "words": ["zebra"]})
    with pytest.raises(CampaignError, match="Unknown mask strategy"):
        create(service, text, masking={"strategy": "vibes"})


def test_plain_sentences_work_with_the_defaults(service):
    """No [MASK] and no mask settings: the least-sure word of each sentence is masked."""
    text = b"Cats sleep on warm mats.\nDogs bark at night.\n"
    made = create(service, text)
    assert made["items"] == 2
    assert made["source"]["masking"] == {"strategy": "least_sure", "per_sentence": 1,
                                         "sentences_without_a_maskable_word": 0}
    item = service.next(people(1)[0], made["id"])
    assert item["text"].count("[MASK]") == 1
    labelled = create(service, text, masking={"strategy": "random words"}, seed=1)
    assert labelled["source"]["masking"]["strategy"] == "random"


def test_mask_messages_use_the_pages_words(service):
    text = b"Cats sleep on warm mats.\n"
    for settings, expected in (
            ({"strategy": "none"}, "words the model is least sure about"),
            ({"strategy": "vibes"}, "random words"),
            ({"strategy": "words"}, "'words from a list' needs a list")):
        with pytest.raises(CampaignError, match=expected) as error:
            create(service, text, masking=settings)
        assert "least_sure" not in str(error.value) and "'random'" not in str(error.value)


def test_from_annotations(service):
    rows = [service.store.add(session_id="s1", preset="fake", text="The sky is [MASK].",
                              mask_index=4, predictions=[], correct_token="blue"),
            service.store.add(session_id="s1", preset="fake", text="Grass is [MASK].",
                              mask_index=3, predictions=[])]
    c = service.create(OWNER, "From my notes", annotations=rows, presets=["fake"], overlap=1)
    assert c["items"] == 2 and c["source"]["kind"] == "annotations"


def test_undo_a_skip_after_others_filled_the_item(service):
    c = create(service, b"Only [MASK] one.\n", overlap=1)
    skipper, judge = people(2)
    item = service.next(skipper, c["id"])
    service.skip(skipper, c["id"], item["item_id"])
    service.submit(judge, c["id"], service.next(judge, c["id"])["item_id"], [["blue"]])
    back = service.undo(skipper, c["id"])
    assert back["item_id"] is None and "taken back" in back["message"]
    assert service.my_answers(skipper, c["id"]) == []
    assert service.next(skipper, c["id"])["item_id"] is None  # no lease beyond the overlap
    with pytest.raises(CampaignError, match="at most 5"):
        create(service, b"[MASK] [MASK] [MASK] [MASK] [MASK] [MASK].\n")


def test_an_expired_lease_answers_like_no_lease(open_service):
    """10 s lease, overlap 1: A leases, the lease runs out, B leases the same item; A's
    late answer is refused and B, holding a valid lease, is accepted (it used to be the
    other way round)."""
    now = [dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)]
    service = open_service(clock=lambda: now[0])
    c = create(service, b"Only [MASK] one.\n", overlap=1, lease_seconds=10)
    a, b = people(2)
    item = service.next(a, c["id"])
    now[0] += dt.timedelta(seconds=11)
    assert service.next(b, c["id"])["item_id"] == item["item_id"]
    before = counts(service)
    for late in (lambda: service.submit(a, c["id"], item["item_id"], [["grey"]]),
                 lambda: service.skip(a, c["id"], item["item_id"]),
                 lambda: service.flag(a, c["id"], item["item_id"], "late")):
        with pytest.raises(NotLeased, match="ran out"):
            late()
        assert counts(service) == before
    done = service.submit(b, c["id"], item["item_id"], [["blue"]])
    assert done["progress"]["judged"] == 1
    assert [m["answers"] for m in service.my_answers(b, c["id"])] == [
        [{"accepted": ["blue"], "typed": None}]]
    assert service.my_answers(a, c["id"]) == []


def test_an_answer_needs_a_word_or_an_explicit_none(service):
    c = create(service, b"Only [MASK] one.\n[MASK] and [MASK].\n", overlap=1)
    ann = people(1)[0]
    item = service.next(ann, c["id"])
    before = counts(service)
    for empty in ([{"accepted": [], "typed": None}], [[]], [{"accepted": [], "typed": "  "}],
                  [{"accepted": [], "none_fit": False}]):
        with pytest.raises(CampaignError, match="Answer 1 is empty.*none of these fit"):
            service.submit(ann, c["id"], item["item_id"], empty)
        assert counts(service) == before
    with pytest.raises(CampaignError, match="'none of these fit' and a word at once"):
        service.submit(ann, c["id"], item["item_id"],
                       [{"accepted": ["blue"], "none_fit": True}])
    with pytest.raises(CampaignError, match=r"type the word that fits instead of \[MASK\]"):
        service.submit(ann, c["id"], item["item_id"], [{"accepted": [], "typed": "[mask]"}])
    assert counts(service) == before
    service.submit(ann, c["id"], item["item_id"], [{"accepted": [], "none_fit": True}])
    assert service.my_answers(ann, c["id"])[0]["answers"] == [
        {"accepted": [], "typed": None, "none_fit": True}]
    two = service.next(ann, c["id"])  # every mask needs its own answer
    with pytest.raises(CampaignError, match="Answer 2 is empty"):
        service.submit(ann, c["id"], two["item_id"], [["blue"], []])


def test_progress_is_counted_from_the_stored_rows(service):
    """No counter beside the rows: the summary is what `campaign_judgments` holds."""
    c = create(service, overlap=2)
    a, b = people(2)
    for who in (a, b, a):
        item = service.next(who, c["id"])
        service.submit(who, c["id"], item["item_id"], [["blue"]])
    service.skip(b, c["id"], service.next(b, c["id"])["item_id"])
    assert "judged" not in schema.items.c
    with service.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(schema.judgments).where(
            schema.judgments.c.kind == "judged")).scalar_one()
    assert stored == 3 and service.get(OWNER, c["id"])["progress"]["judged"] == 3
    service.undo(a, c["id"])
    assert service.get(OWNER, c["id"])["progress"]["judged"] == 2
