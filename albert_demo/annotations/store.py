"""SQLAlchemy Core annotation store (SQLite or PostgreSQL).

Usage::

    store = AnnotationStore.from_env("data")      # SQLite unless ALBERT_DEMO_DATABASE_URL
    a = store.add(session_id=sid, preset="albert_base_en", text="Paris is the [MASK] of France.",
                  mask_index=4, predictions=[{"token": "▁capital", "token_id": 1, "score": 0.9}])
    store.update(a.id, sid, verdict="right")
    store.search(session_id=sid, query="paris")

Every statement uses bound parameters.  ``add``/``update``/``delete``/
``import_file`` return only after their transaction has committed (SQLite:
WAL + ``synchronous=FULL``; PostgreSQL: default ``synchronous_commit=on``).

Visibility rules: with ``sharing=False`` (the default), reads that are given
a ``session_id`` only see that session's rows, and only the owning session may
update or delete a row.  Passing ``session_id=None`` to a read method means a
trusted caller (admin export, tests) and sees everything.  With
``sharing=True`` every session sees and may edit every row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from sqlalchemy import (
    delete as sa_delete,
    func,
    insert,
    or_,
    select,
    update as sa_update,
)
from sqlalchemy.engine import URL, Connection, Engine

from albert_demo import settings

from . import schema
from .database import make_engine, normalize_url, storage_full  # noqa: F401 (re-exported)
from .schema import annotations as T
from .validation import (
    MAX_TEXT,
    VERDICTS,
    AnnotationError,
    AnnotationNotFound,
    clean_str,
    validate_record,
    validate_session_id,
    validate_updatable,
)

SQLITE_FILENAME = "annotations.sqlite3"
DEFAULT_IMPORT_LIMIT = 5 * 1024 * 1024
DEFAULT_BUSY_TIMEOUT_S = 30.0


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclasses.dataclass(frozen=True)
class Annotation:
    id: int
    created_at: dt.datetime
    updated_at: dt.datetime
    session_id: str
    preset: str
    text: str
    mask_index: int
    mask_ordinal: int
    predictions: list
    verdict: str | None
    correct_token: str | None
    tag: str | None
    note: str | None

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["created_at"] = self.created_at.isoformat()
        d["updated_at"] = self.updated_at.isoformat()
        return d

    @classmethod
    def _from_row(cls, row) -> "Annotation":
        m = row._mapping
        return cls(**{f.name: m[f.name] for f in dataclasses.fields(cls)})


class AnnotationStore:
    def __init__(
        self,
        url: str | URL,
        *,
        sharing: bool = False,
        import_limit_bytes: int = DEFAULT_IMPORT_LIMIT,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        pool_size: int = 10,
        max_overflow: int = 30,
    ):
        self.url = normalize_url(url)
        self.sharing = bool(sharing)
        self.import_limit_bytes = int(import_limit_bytes)
        # SQLite allows one writer at a time.  Queue this process's writers on
        # a lock instead of letting them spin in SQLite's sleeping busy handler
        # (which starves some threads for seconds); other processes are still
        # handled by BEGIN IMMEDIATE + busy_timeout.
        self._sqlite_write_lock = threading.Lock()
        self.engine: Engine = make_engine(self.url, busy_timeout_s, pool_size, max_overflow)
        self.schema_version = self._migrate()

    # ------------------------------------------------------------------ setup
    @classmethod
    def from_env(cls, data_dir: str | os.PathLike, **kwargs) -> "AnnotationStore":
        url = settings.current().database_url
        if url:
            return cls(url, **kwargs)
        return cls.sqlite(Path(data_dir) / SQLITE_FILENAME, **kwargs)

    @classmethod
    def sqlite(cls, path: str | os.PathLike, **kwargs) -> "AnnotationStore":
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(URL.create("sqlite+pysqlite", database=str(path)), **kwargs)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def __repr__(self) -> str:
        return (
            f"AnnotationStore({self.url.render_as_string(hide_password=True)!r}, "
            f"sharing={self.sharing})"
        )

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; commits on normal exit, rolls back on error. A full disk
        becomes an AnnotationError that says so (the transaction left nothing behind).
        Public: the campaign tables share this database and its one SQLite writer."""
        try:
            if self.backend != "sqlite":
                with self.engine.connect() as conn, conn.begin():
                    yield conn
                return
            with self._sqlite_write_lock, self.engine.connect() as conn:
                conn.execution_options(sqlite_begin="IMMEDIATE")
                with conn.begin():
                    yield conn
        except Exception as error:
            if storage_full(error):
                raise AnnotationError("The server's disk is full: nothing was saved and "
                                      "earlier annotations are intact. Try again once space "
                                      "is freed.") from error
            raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (one consistent view of the database)."""
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    def _migrate(self) -> int:
        with self.write() as conn:
            return schema.migrate(conn)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "AnnotationStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ write
    def add(self, **fields: Any) -> Annotation:
        """Validate and insert one annotation; returns it after commit.

        Keyword arguments: session_id, preset, text, mask_index,
        mask_ordinal=0, predictions=None, verdict=None, correct_token=None,
        tag=None, note=None.
        """
        rec = validate_record(**fields)
        now = _utcnow()
        rec["created_at"] = rec["updated_at"] = now
        with self.write() as conn:
            new_id = conn.execute(insert(T).values(**rec)).inserted_primary_key[0]
        return Annotation(id=new_id, **rec)

    def _add_validated(self, records: list[dict]) -> int:
        """Insert already-validated records in ONE transaction."""
        if not records:
            return 0
        with self.write() as conn:
            conn.execute(insert(T), records)
        return len(records)

    @staticmethod
    def _not_yours(ann_id: int) -> AnnotationNotFound:
        # One message for "someone else's" and "not there", so ids cannot be probed.
        return AnnotationNotFound(f"No annotation #{ann_id} among yours.")

    @staticmethod
    def _row_id(ann_id: Any) -> int:
        """An id the database can hold (64-bit); any other number names no annotation."""
        if isinstance(ann_id, bool) or not isinstance(ann_id, int):
            if not (isinstance(ann_id, float) and ann_id.is_integer()):
                raise AnnotationError(f"An annotation id is a whole number, not {ann_id!r}.")
        ann_id = int(ann_id)
        if not 1 <= ann_id < 2**63:
            raise AnnotationStore._not_yours(ann_id)
        return ann_id

    def update(self, ann_id: int, session_id: str, **fields: Any) -> Annotation:
        ann_id = self._row_id(ann_id)
        session_id = validate_session_id(session_id)
        values = validate_updatable(fields)
        values["updated_at"] = _utcnow()
        stmt = sa_update(T).where(T.c.id == ann_id)
        if not self.sharing:
            stmt = stmt.where(T.c.session_id == session_id)
        with self.write() as conn:
            res = conn.execute(stmt.values(**values))
            if res.rowcount == 0:
                raise self._not_yours(ann_id)
            row = conn.execute(select(T).where(T.c.id == ann_id)).one()
        return Annotation._from_row(row)

    def delete(self, ann_id: int, session_id: str) -> None:
        ann_id = self._row_id(ann_id)
        session_id = validate_session_id(session_id)
        stmt = sa_delete(T).where(T.c.id == ann_id)
        if not self.sharing:
            stmt = stmt.where(T.c.session_id == session_id)
        with self.write() as conn:
            if conn.execute(stmt).rowcount == 0:
                raise self._not_yours(ann_id)

    # ------------------------------------------------------------------- read
    def _visible(self, stmt, session_id):
        if session_id is not None and not self.sharing:
            stmt = stmt.where(T.c.session_id == validate_session_id(session_id))
        return stmt

    def get(self, ann_id: int, session_id: str | None = None) -> Annotation | None:
        """The annotation, or None if it does not exist or is not visible."""
        try:
            ann_id = self._row_id(ann_id)
        except AnnotationNotFound:
            return None
        stmt = self._visible(select(T).where(T.c.id == ann_id), session_id)
        with self.read() as conn:
            row = conn.execute(stmt).one_or_none()
        return None if row is None else Annotation._from_row(row)

    def _filtered(self, stmt, *, query=None, preset=None, tag=None, verdict=None, since=None,
                  until=None, session_id=None, owner=None):
        """The filters `search` and `count` share (see `search`)."""
        stmt = self._visible(stmt, session_id)
        if owner is not None:
            stmt = stmt.where(T.c.session_id == validate_session_id(owner))
        query = clean_str(query, "query", MAX_TEXT)
        if query is not None:
            stmt = stmt.where(
                or_(
                    T.c.text.icontains(query, autoescape=True),
                    T.c.note.icontains(query, autoescape=True),
                    T.c.correct_token.icontains(query, autoescape=True),
                )
            )
        if preset is not None:
            stmt = stmt.where(T.c.preset == preset)
        if tag is not None:
            stmt = stmt.where(T.c.tag == tag)
        if verdict is not None:
            if verdict == "none":
                stmt = stmt.where(T.c.verdict.is_(None))
            elif verdict in VERDICTS:
                stmt = stmt.where(T.c.verdict == verdict)
            else:
                raise AnnotationError("verdict filter must be 'right', 'wrong' or 'none'")
        if since is not None:
            stmt = stmt.where(T.c.created_at >= since)
        if until is not None:
            stmt = stmt.where(T.c.created_at < until)
        return stmt

    def search(self, *, limit: int | None = 100, offset: int = 0,
               **filters: Any) -> list[Annotation]:
        """Newest first.  Filters: ``query`` (case-insensitive substring of text, note
        or correct_token), ``preset``, ``tag``, ``verdict`` ('right', 'wrong', or 'none'
        for unjudged rows), ``since`` (inclusive) and ``until`` (exclusive) on created_at,
        ``session_id`` (visibility, see the module's docstring) and ``owner`` (the author,
        regardless of sharing).  ``limit=None`` returns everything."""
        stmt = self._filtered(select(T), **filters).order_by(T.c.created_at.desc(),
                                                              T.c.id.desc())
        if limit is not None:
            if int(limit) < 0:
                raise ValueError("limit must be >= 0")
            stmt = stmt.limit(int(limit))
        if offset:
            if int(offset) < 0:
                raise ValueError("offset must be >= 0")
            stmt = stmt.offset(int(offset))
        with self.read() as conn:
            return [Annotation._from_row(r) for r in conn.execute(stmt)]

    def count(self, session_id: str | None = None, **filters: Any) -> int:
        stmt = self._filtered(select(func.count()).select_from(T), session_id=session_id, **filters)
        with self.read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def _distinct(self, col, session_id) -> list[str]:
        stmt = self._visible(select(col).where(col.is_not(None)).distinct(), session_id)
        with self.read() as conn:
            return sorted(conn.execute(stmt).scalars())

    def presets(self, session_id: str | None = None) -> list[str]:
        return self._distinct(T.c.preset, session_id)

    def tags(self, session_id: str | None = None) -> list[str]:
        return self._distinct(T.c.tag, session_id)

    # ------------------------------------------------------- export / import
    def _rows(self, rows: Iterable[Annotation] | None, filters: dict) -> list[Annotation]:
        if rows is not None:
            return list(rows)
        filters.setdefault("limit", None)
        return self.search(**filters)

    def export_csv(self, rows: Iterable[Annotation] | None = None, **filters: Any) -> str:
        from .formats import to_csv

        return to_csv(self._rows(rows, filters))

    def export_jsonl(self, rows: Iterable[Annotation] | None = None, **filters: Any) -> str:
        from .formats import to_jsonl

        return to_jsonl(self._rows(rows, filters))

    def export_hf_dataset(
        self, out_dir: str | os.PathLike, rows: Iterable[Annotation] | None = None, **filters: Any
    ) -> Path:
        from .formats import write_hf_dataset

        return write_hf_dataset(out_dir, self._rows(rows, filters))

    def import_file(
        self,
        source: str | os.PathLike | bytes,
        fmt: str | None,
        session_id: str,
        *,
        max_bytes: int | None = None,
        defaults=None,
    ) -> int:
        """Import CSV or JSONL (as produced by the exporters).

        Every record is validated before anything is written; the first bad
        one raises :class:`AnnotationError` naming its 1-based line.  All rows
        are inserted in one transaction, owned by ``session_id``.  Returns the
        number of rows imported.  ``defaults`` (a ``formats.ImportDefaults``)
        lets rows leave out preset and mask_index (the simple format).
        """
        from .formats import parse_import

        session_id = validate_session_id(session_id)
        limit = self.import_limit_bytes if max_bytes is None else int(max_bytes)
        records = parse_import(source, fmt, session_id, max_bytes=limit, defaults=defaults)
        return self._add_validated(records)
