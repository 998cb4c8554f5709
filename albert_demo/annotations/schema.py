"""Tables and ordered, idempotent migrations for the annotation store."""

from __future__ import annotations

import datetime as dt
from typing import Callable

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    insert,
    select,
    text as sql_text,
)
from sqlalchemy.engine import Connection

metadata = MetaData()


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are
    stored as naive UTC (ISO strings that sort chronologically) and UTC is
    re-attached on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        value = value.astimezone(dt.timezone.utc)
        if dialect.name == "sqlite":
            value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def version_table(name: str, metadata: MetaData) -> Table:
    """The table of applied migration versions that `run_migrations` reads and writes."""
    return Table(
        name,
        metadata,
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("applied_at", UTCDateTime(), nullable=False),
    )


schema_version = version_table("schema_version", metadata)

annotations = Table(
    "annotations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("session_id", String(128), nullable=False),
    Column("preset", String(128), nullable=False),
    Column("text", Text, nullable=False),
    Column("mask_index", Integer, nullable=False),
    Column("mask_ordinal", Integer, nullable=False),
    Column("predictions", JSON, nullable=False),
    Column("verdict", String(8), nullable=True),
    Column("correct_token", String(100), nullable=True),
    Column("tag", String(64), nullable=True),
    Column("note", Text, nullable=True),
)

# Indexes are created by migration 2 (kept out of the Table so that
# migration 1 reproduces the original v1 schema exactly).
_indexes = [
    Index("ix_annotations_session_created", annotations.c.session_id, annotations.c.created_at),
    Index("ix_annotations_created", annotations.c.created_at),
    Index("ix_annotations_preset", annotations.c.preset),
    Index("ix_annotations_tag", annotations.c.tag),
]


def _m1_create_annotations(conn: Connection) -> None:
    annotations.create(conn, checkfirst=True)


def _m2_indexes(conn: Connection) -> None:
    for ix in _indexes:
        ix.create(conn, checkfirst=True)


# Ordered list: (version, description, function).  Append only; never edit a
# released migration.  Each function must be safe to run inside one
# transaction; the runner records the version in the same transaction.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "create annotations table", _m1_create_annotations),
    (2, "add indexes on session_id/created_at, created_at, preset, tag", _m2_indexes),
]

LATEST_VERSION = MIGRATIONS[-1][0]

# Arbitrary constant identifying this application's migration lock.
_PG_LOCK_KEY = 0x616C6265  # "albe"


def run_migrations(conn: Connection, versions: Table,
                   migrations: list[tuple[int, str, Callable[[Connection], None]]],
                   lock_key: int, what: str) -> int:
    """Apply the ``migrations`` not yet recorded in ``versions`` (a `version_table`), in
    order.

    Runs inside the caller's transaction.  Concurrency: on PostgreSQL a
    transaction-scoped advisory lock on ``lock_key`` serialises concurrent
    openers; on SQLite the caller must have started the transaction with
    ``BEGIN IMMEDIATE`` (the stores do), which takes the database write lock
    before anything is read.  The second opener then sees the versions the
    first one recorded and does nothing.  A database newer than the code is
    refused, naming ``what`` (e.g. "database schema").

    Returns the schema version after migrating.
    """
    latest = migrations[-1][0]
    if conn.dialect.name == "postgresql":
        conn.execute(sql_text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key})
    versions.create(conn, checkfirst=True)
    applied = set(conn.execute(select(versions.c.version)).scalars())
    if applied and max(applied) > latest:
        raise RuntimeError(
            f"{what} version {max(applied)} is newer than this code "
            f"supports ({latest}); upgrade albert-demo"
        )
    for version, _desc, fn in migrations:
        if version in applied:
            continue
        fn(conn)
        conn.execute(
            insert(versions).values(
                version=version, applied_at=dt.datetime.now(dt.timezone.utc)
            )
        )
    return latest


def migrate(conn: Connection) -> int:
    """Bring the annotation schema up to date inside the caller's transaction."""
    return run_migrations(conn, schema_version, MIGRATIONS, _PG_LOCK_KEY, "database schema")
