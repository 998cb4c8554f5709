"""A database made by the first release of the campaign tables (a `judged` counter on each
item) is brought up to date: the counter and its index go, progress is counted from the
judgment rows, and the answers already stored stay."""

import datetime as dt

from sqlalchemy import JSON, Boolean, Column, Index, Integer, MetaData, String, Table, Text

from albert_demo.annotations import AnnotationStore
from albert_demo.annotations.schema import UTCDateTime, run_migrations
from albert_demo.campaigns import CampaignService, schema
from tests.campaigns.conftest import OWNER, FakeCache, people


def _version_1(conn):
    """The items table as release 1 created it (the other tables did not change)."""
    old = MetaData()
    for table in (schema.campaigns, schema.judgments, schema.leases):
        table.to_metadata(old)
    items = Table(
        "campaign_items", old,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("campaign_id", Integer, nullable=False),
        Column("ordinal", Integer, nullable=False),
        Column("text", Text, nullable=False),
        Column("reference", JSON, nullable=False),
        Column("predictions", JSON, nullable=False),
        Column("swap", Boolean, nullable=False),
        Column("judged", Integer, nullable=False),
        Column("gold", JSON, nullable=True),
        Column("gold_by", String(200), nullable=True),
        Column("gold_at", UTCDateTime(), nullable=True))
    Index("ix_campaign_items_open", items.c.campaign_id, items.c.judged, items.c.ordinal)
    old.create_all(conn)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    conn.execute(schema.campaigns.insert().values(
        id=1, name="Old", owner=OWNER.id, created_at=now, presets=["fake"], top_k=2,
        overlap=2, guidelines="", lease_seconds=600, source={"kind": "file"}))
    conn.execute(items.insert(), [
        {"id": n, "campaign_id": 1, "ordinal": n, "text": f"Old {n} is [MASK].",
         "reference": [None], "predictions": {"fake": [[{"token": "blue", "score": 0.5}]]},
         "swap": False, "judged": 7} for n in (1, 2)])  # a drifted counter
    conn.execute(schema.judgments.insert().values(
        campaign_id=1, item_id=1, annotator=people(1)[0].id, verified=True, kind="judged",
        answers=[{"accepted": ["blue"], "typed": None}], created_at=now))


def test_a_release_1_database_is_migrated(db_url):
    store = AnnotationStore(db_url)
    try:
        with store.write() as conn:
            run_migrations(conn, schema.schema_version,
                           [(1, "release 1 tables", _version_1)], schema._PG_LOCK_KEY, "old")
        service = CampaignService(store, FakeCache())
        assert service.get(OWNER, 1)["progress"]["judged"] == 1  # the row, not the 7s
        with store.read() as conn:
            from sqlalchemy import inspect
            columns = {c["name"] for c in inspect(conn).get_columns("campaign_items")}
            indexes = {i["name"] for i in inspect(conn).get_indexes("campaign_items")}
            versions = set(conn.execute(schema.schema_version.select()).scalars())
        assert "judged" not in columns and "gold_source" in columns
        assert "ix_campaign_items_open" not in indexes and versions == {1, 2}
        second = people(2)[1]
        item = service.next(second, 1)
        service.submit(second, 1, item["item_id"], [["blue"]])
        service.adjudicate(OWNER, 1, item["item_id"], ["blue"])
        assert service.get(OWNER, 1)["progress"]["judged"] == 2
        CampaignService(store, FakeCache())  # opening again changes nothing
    finally:
        store.close()
