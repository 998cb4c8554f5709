"""Campaign tables and their own ordered, append-only migrations.

They live in the annotation store's database (same engine) with a version table of
their own, so the two schemas evolve independently. Same rules as
`albert_demo.annotations.schema`: one transaction per migration run, serialised by a
lock (PostgreSQL advisory lock; SQLite ``BEGIN IMMEDIATE``), a newer database refused.
"""

from __future__ import annotations

from typing import Callable

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection

from albert_demo.annotations.schema import UTCDateTime, run_migrations, version_table

metadata = MetaData()

schema_version = version_table("campaign_schema_version", metadata)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("presets", JSON, nullable=False),          # one or two preset names
    Column("top_k", Integer, nullable=False),
    Column("overlap", Integer, nullable=False),        # judgments wanted per item
    Column("guidelines", Text, nullable=False),
    Column("lease_seconds", Integer, nullable=False),
    Column("source", JSON, nullable=False),            # how the items were made
)

items = Table(
    "campaign_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"),
           nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("text", Text, nullable=False),               # with one or more [MASK]
    Column("reference", JSON, nullable=False),          # per mask: original/given word or null
    Column("predictions", JSON, nullable=False),        # {preset: [[word, ...] per mask]}
    Column("swap", Boolean, nullable=False),            # blind order of two presets
    # No counter of judgments here: progress is counted from `campaign_judgments` rows,
    # so a figure can never drift from what is stored (migration 2 dropped `judged`).
    Column("gold", JSON, nullable=True),                # adjudicated, per mask
    Column("gold_source", JSON, nullable=True),         # per mask: adjudicated | owner
    Column("gold_by", String(200), nullable=True),
    Column("gold_at", UTCDateTime(), nullable=True),
    UniqueConstraint("campaign_id", "ordinal", name="uq_campaign_items_ordinal"),
)

judgments = Table(
    "campaign_judgments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"),
           nullable=False),
    Column("item_id", Integer, ForeignKey("campaign_items.id", ondelete="CASCADE"),
           nullable=False),
    Column("annotator", String(200), nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("kind", String(8), nullable=False),          # judged | skipped | flagged
    Column("answers", JSON, nullable=True),             # [{"accepted": [...], "typed": w}]
    Column("note", Text, nullable=True),
    Column("leased_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("item_id", "annotator", name="uq_campaign_judgments_item_annotator"),
)

leases = Table(
    "campaign_leases",
    metadata,
    Column("item_id", Integer, ForeignKey("campaign_items.id", ondelete="CASCADE"),
           primary_key=True),
    Column("annotator", String(200), primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"),
           nullable=False),
    Column("leased_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

_indexes = [
    Index("ix_campaign_judgments_item_kind", judgments.c.item_id, judgments.c.kind),
    Index("ix_campaign_judgments_annotator", judgments.c.campaign_id, judgments.c.annotator,
          judgments.c.created_at),
    Index("ix_campaign_judgments_created", judgments.c.campaign_id, judgments.c.created_at),
    Index("ix_campaign_leases_campaign", leases.c.campaign_id, leases.c.annotator),
]


def _m1_create(conn: Connection) -> None:
    for table in (campaigns, items, judgments, leases):
        table.create(conn, checkfirst=True)
    for ix in _indexes:
        ix.create(conn, checkfirst=True)


def _m2_counts_from_rows(conn: Connection) -> None:
    """Drop the `judged` counter (it drifted under racing undos; progress is now counted
    from the judgment rows), index judgments by item and kind for that count, and record
    per mask whether a gold word was an annotator's (adjudicated) or the owner's own.
    A database that migration 1 created from today's tables has none of the old parts."""
    present = {c["name"] for c in inspect(conn).get_columns("campaign_items")}
    old_indexes = {ix["name"] for ix in inspect(conn).get_indexes("campaign_items")}
    if "ix_campaign_items_open" in old_indexes:
        conn.execute(sql_text("DROP INDEX ix_campaign_items_open"))
    if "judged" in present:
        conn.execute(sql_text("ALTER TABLE campaign_items DROP COLUMN judged"))
    if "gold_source" not in present:
        conn.execute(sql_text("ALTER TABLE campaign_items ADD COLUMN gold_source "
                              + JSON().compile(dialect=conn.dialect)))
    for ix in _indexes:
        ix.create(conn, checkfirst=True)


# (version, description, function). Append only; never edit a released migration.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "create campaigns, items, judgments, leases", _m1_create),
    (2, "progress counted from judgment rows; gold_source per mask", _m2_counts_from_rows),
]

LATEST_VERSION = MIGRATIONS[-1][0]
_PG_LOCK_KEY = 0x63616D70  # "camp"


def migrate(conn: Connection) -> int:
    """Bring the campaign tables up to date inside the caller's write transaction."""
    return run_migrations(conn, schema_version, MIGRATIONS, _PG_LOCK_KEY, "campaign schema")
