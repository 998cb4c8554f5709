"""AnnotationStore against SQLite and PostgreSQL (see conftest.py)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from albert_demo.annotations import AnnotationError, AnnotationNotFound, AnnotationStore
from albert_demo.annotations import schema
from albert_demo.annotations.store import normalize_url


PREDS = [
    {"token": "\u2581capital", "token_id": 1234, "score": 0.81},
    {"token": "\u2581city", "token_id": 567, "score": 0.07},
]


def rec(**kw):
    base = dict(
        session_id="alice",
        preset="albert_base_en_uncased",
        text="Paris is the [MASK] of France.",
        mask_index=4,
        predictions=PREDS,
    )
    base.update(kw)
    return base


# ---------------------------------------------------------------- CRUD
def test_add_get_update_delete(store):
    a = store.add(**rec(tag="geo", note="first"))
    assert a.id is not None and a.created_at.tzinfo is not None
    assert a.created_at == a.updated_at
    got = store.get(a.id)
    assert got == a
    assert got.predictions == PREDS

    b = store.update(a.id, "alice", verdict="right", correct_token="capital", note=None)
    assert (b.verdict, b.correct_token, b.note, b.tag) == ("right", "capital", None, "geo")
    assert b.updated_at >= a.updated_at and b.created_at == a.created_at
    assert store.get(a.id) == b

    store.delete(a.id, "alice")
    assert store.get(a.id) is None
    assert store.count() == 0
    with pytest.raises(AnnotationNotFound):
        store.delete(a.id, "alice")
    with pytest.raises(AnnotationNotFound):
        store.update(a.id, "alice", note="x")


def test_ownership(store, open_store):
    a = store.add(**rec())
    # Someone else's row and a missing row get the same answer: ids cannot be probed.
    missing = a.id + 1000
    for action in (lambda i: store.update(i, "mallory", verdict="wrong"),
                   lambda i: store.delete(i, "mallory")):
        with pytest.raises(AnnotationNotFound) as theirs:
            action(a.id)
        with pytest.raises(AnnotationNotFound) as absent:
            action(missing)
        assert str(theirs.value).replace(str(a.id), "N") == \
            str(absent.value).replace(str(missing), "N")
    # A non-whole id names no row (it is never rounded to a neighbour).
    with pytest.raises(AnnotationError, match="whole number"):
        store.delete(a.id + 0.5, "alice")
    assert store.get(a.id) == a  # untouched
    # Private reads: other sessions do not see it.
    assert store.get(a.id, session_id="mallory") is None
    assert store.search(session_id="mallory") == []
    assert store.get(a.id, session_id="alice") == a

    shared = open_store(sharing=True)
    assert shared.get(a.id, session_id="bob") == a
    assert [r.id for r in shared.search(session_id="bob")] == [a.id]
    assert shared.update(a.id, "bob", tag="edited").tag == "edited"
    shared.delete(a.id, "bob")
    assert store.count() == 0


def test_update_rejects_unknown_fields(store):
    a = store.add(**rec())
    with pytest.raises(AnnotationError, match="cannot update"):
        store.update(a.id, "alice", text="hijack [MASK]")
    with pytest.raises(AnnotationError, match="verdict"):
        store.update(a.id, "alice", verdict="maybe")
    assert store.get(a.id) == a


# ---------------------------------------------------------------- search
def test_search_filters(store, open_store):
    t0 = dt.datetime.now(dt.timezone.utc)
    a = store.add(**rec(tag="geo", verdict="right", note="Capital cities"))
    time.sleep(0.01)
    b = store.add(**rec(preset="albert_large_en", text="I like [MASK] cheese.", tag="food",
                        verdict="wrong", correct_token="BLUE"))
    time.sleep(0.01)
    c = store.add(**rec(session_id="bob", text="100% sure [MASK] works", tag="geo"))
    d = store.add(**rec(text="100x sure [MASK] works"))

    ids = lambda rows: [r.id for r in rows]  # noqa: E731
    assert ids(store.search(session_id="alice")) == [d.id, b.id, a.id]  # newest first
    assert ids(store.search()) == [d.id, c.id, b.id, a.id]  # trusted caller
    assert ids(store.search(session_id="alice", query="PARIS")) == [a.id]
    assert ids(store.search(session_id="alice", query="capital CIT")) == [a.id]  # note
    assert ids(store.search(session_id="alice", query="blue")) == [b.id]  # correct_token
    assert ids(store.search(query="100%")) == [c.id]  # LIKE wildcards are literal
    assert ids(store.search(query="_")) == []
    assert ids(store.search(preset="albert_large_en")) == [b.id]
    assert ids(store.search(tag="geo")) == [c.id, a.id]
    assert ids(store.search(tag="geo", session_id="bob")) == [c.id]
    assert ids(store.search(verdict="right")) == [a.id]
    assert ids(store.search(verdict="wrong")) == [b.id]
    assert ids(store.search(verdict="none")) == [d.id, c.id]
    assert ids(store.search(since=b.created_at)) == [d.id, c.id, b.id]
    assert ids(store.search(until=b.created_at)) == [a.id]
    assert ids(store.search(since=t0, until=c.created_at)) == [b.id, a.id]
    assert ids(store.search(limit=2)) == [d.id, c.id]
    assert ids(store.search(limit=2, offset=2)) == [b.id, a.id]
    assert ids(store.search(owner="bob")) == [c.id]

    assert store.presets() == ["albert_base_en_uncased", "albert_large_en"]
    assert store.tags() == ["food", "geo"]
    assert store.tags(session_id="bob") == ["geo"]
    assert store.count() == 4
    assert store.count(session_id="alice") == 3
    assert store.count(tag="geo") == 2
    shared = open_store(sharing=True)
    assert store.count(session_id="bob") == 1
    assert shared.count(session_id="bob") == 4


def test_search_unicode_case_insensitive(store):
    a = store.add(**rec(text="Die [MASK] ist ÉNORME."))
    assert [r.id for r in store.search(query="énorme")] == [a.id]


# ---------------------------------------------------------------- text handling
TRICKY = [
    "Emoji 👩‍👩‍👧‍👦 and 🇫🇷 flag: [MASK] 😀",
    "مرحبا [MASK] بالعالم",  # Arabic (RTL)
    "שלום \u200f[MASK]\u200e עולם",  # Hebrew with RLM/LRM marks
    "<script>alert('x')</script> &amp; <b>[MASK]</b> \"quoted\"",
    "'; DROP TABLE annotations; -- [MASK] %s %(x)s ? :param",
    "e\u0301 combining, 中文 [MASK] 日本語, tab\there\nnewline",
    "back\\slash [MASK] ,comma, \"dq\" 'sq'",
]


@pytest.mark.parametrize("text", TRICKY)
def test_unicode_round_trip(store, text):
    a = store.add(**rec(text=text, note=text.replace("[MASK]", "x"), tag="🏷️ tag",
                        correct_token="مرحبا"))
    got = store.get(a.id)
    assert got.text == text and got.note == text.replace("[MASK]", "x")
    assert got.tag == "🏷️ tag" and got.correct_token == "مرحبا"
    assert [r.id for r in store.search(query=text[:8])] == [a.id]


def test_control_chars_stripped_and_surrogates_rejected(store):
    a = store.add(**rec(text="a\x00b\x07c\r\x1b[MASK]\x7f\x85d\te\nf", note="n\x00ote"))
    assert a.text == "abc[MASK]d\te\nf"
    assert store.get(a.id).note == "note"
    with pytest.raises(AnnotationError, match="lone surrogate"):
        store.add(**rec(text="bad \ud800 [MASK]"))
    with pytest.raises(AnnotationError, match="lone surrogate"):
        store.update(a.id, "alice", note="x\udfff")
    assert store.count() == 1


@pytest.mark.parametrize(
    "field,value,msg",
    [
        ("note", "n" * 2001, "note is too long"),
        ("text", "[MASK]" + "t" * 4995, "text is too long"),
        ("tag", "g" * 65, "tag is too long"),
        ("correct_token", "c" * 101, "correct_token is too long"),
        ("text", "no mask here", "must contain"),
        ("mask_ordinal", 1, "out of range"),
        ("verdict", "maybe", "verdict"),
        ("predictions", [{"token": "x", "token_id": 1, "score": float("nan")}], "finite"),
        ("mask_index", -1, ">= 0"),
    ],
)
def test_invalid_rejected_nothing_written(store, field, value, msg):
    with pytest.raises(AnnotationError, match=msg):
        store.add(**rec(**{field: value}))
    assert store.count() == 0


def test_limits_are_inclusive(store):
    a = store.add(**rec(text="[MASK]" + "t" * 4994, note="n" * 2000, tag="g" * 64,
                        correct_token="c" * 100))
    assert len(store.get(a.id).text) == 5000
    with pytest.raises(AnnotationError, match="note is too long"):
        store.update(a.id, "alice", note="n" * 2001)
    assert store.get(a.id).note == "n" * 2000


# ---------------------------------------------------------------- schema
def _versions(s: AnnotationStore):
    with s.engine.connect() as c:
        return sorted(c.execute(select(schema.schema_version.c.version)).scalars())


def test_migrations_idempotent(store, open_store):
    a = store.add(**rec())
    again = open_store()
    third = open_store()
    assert _versions(third) == [v for v, _, _ in schema.MIGRATIONS]
    assert again.schema_version == third.schema_version == schema.LATEST_VERSION
    assert third.get(a.id) == a


def test_partial_migration_upgrades(db_url, monkeypatch):
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
    monkeypatch.setattr(schema, "LATEST_VERSION", 1)
    old = AnnotationStore(db_url)
    assert _versions(old) == [1]
    a = old.add(**rec())
    old.close()
    monkeypatch.undo()
    new = AnnotationStore(db_url)
    try:
        assert _versions(new) == [1, 2]
        assert new.get(a.id) == a
    finally:
        new.close()


def test_concurrent_open_is_safe(db_url):
    barrier = threading.Barrier(6)

    def opener(_):
        barrier.wait()
        s = AnnotationStore(db_url)
        v = _versions(s)
        s.close()
        return v

    with ThreadPoolExecutor(6) as ex:
        results = list(ex.map(opener, range(6)))
    assert all(v == [1, 2] for v in results)


def test_newer_schema_refused(store, db_url):
    with store.engine.begin() as c:
        c.execute(schema.schema_version.insert().values(
            version=999, applied_at=dt.datetime.now(dt.timezone.utc)))
    with pytest.raises(RuntimeError, match="newer than this code"):
        AnnotationStore(db_url)


def test_url_normalisation(tmp_path, monkeypatch):
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql://u:secret@h/db").drivername == "postgresql+psycopg"
    monkeypatch.delenv("ALBERT_DEMO_DATABASE_URL", raising=False)
    with AnnotationStore.from_env(tmp_path / "d") as s:
        assert s.backend == "sqlite"
        assert (tmp_path / "d" / "annotations.sqlite3").exists()
        with s.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    monkeypatch.setenv("ALBERT_DEMO_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    with AnnotationStore.from_env(tmp_path / "d") as s:
        assert s.url.database.endswith("other.db")
    s = AnnotationStore.__new__(AnnotationStore)
    s.url, s.sharing = normalize_url("postgresql://u:secret@h/db"), False
    assert "secret" not in repr(s)


# ---------------------------------------------------------------- concurrency
def test_concurrent_writers_lose_nothing(store):
    def worker(t):
        return [store.add(**rec(session_id=f"s{t}", note=f"{t}-{i}")).id for i in range(10)]

    with ThreadPoolExecutor(20) as ex:
        ids = [i for chunk in ex.map(worker, range(20)) for i in chunk]
    assert len(ids) == len(set(ids)) == 200
    assert store.count() == 200
    notes = {r.note for r in store.search(limit=None)}
    assert notes == {f"{t}-{i}" for t in range(20) for i in range(10)}


# ---------------------------------------------------------------- durability
CHILD = """
import time
from albert_demo.annotations.store import AnnotationStore
s = AnnotationStore(sys.argv[1])
i = 0
while True:
    a = s.add(session_id="dur", preset="p", text="durable [MASK] %d" % i, mask_index=1)
    print(a.id, flush=True)   # printed only after add() returned (= committed)
    i += 1
    if i >= 25:
        time.sleep(60)        # hold the process (and its connections) open
"""


def test_acknowledged_writes_survive_kill9(db_url, light_import_prelude):
    proc = subprocess.Popen(
        [sys.executable, "-c", light_import_prelude + CHILD, db_url], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    acked = []
    try:
        deadline = time.monotonic() + 30
        while len(acked) < 10 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked.append(int(line))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert len(acked) >= 10, proc.stderr.read()
    assert proc.returncode == -signal.SIGKILL
    with AnnotationStore(db_url) as s:
        for ann_id in acked:
            got = s.get(ann_id)
            assert got is not None and got.session_id == "dur", ann_id


# ---------------------------------------------------------------- property test
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300))
def test_any_unicode_round_trips(store, s):
    import unicodedata

    text = s + " [MASK]"
    expected = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    a = store.add(**rec(text=text, session_id="prop"))
    assert a.text == expected and store.get(a.id).text == expected
    assert store.import_file(store.export_jsonl(rows=[a]).encode(), "jsonl", "prop2") == 1
    assert store.search(session_id="prop2", limit=1)[0].text == expected
