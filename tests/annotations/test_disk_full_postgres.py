"""PostgreSQL on a full disk: the database lives in a tablespace on a small tmpfs that is
filled to the last byte; adding annotations then fails with the same clear message as on
SQLite (SQLSTATE 53100), keeps every acknowledged row, and works again once space is
freed. Needs root (tmpfs mount) and the session's throwaway cluster."""

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from albert_demo.annotations import AnnotationError, AnnotationStore
from tests.harness.small_disk import small_disk

PREDS = [{"token": "\u2581door", "token_id": 12, "score": 0.5}]


def record(n):
    return dict(session_id="alice", preset="albert_tiny_en_uncased",
                text=f"She opened the [MASK] number {n}. " + "x" * 400, mask_index=4,
                predictions=PREDS)


def test_postgres_on_a_full_disk_fails_clearly_and_loses_nothing(postgres_url):
    if os.environ.get("ALBERT_DEMO_TEST_POSTGRES_URL", "").strip():
        pytest.skip("the tablespace must be on the server's machine: needs the local cluster")
    base = make_url(postgres_url).set(drivername="postgresql+psycopg")
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        postgres_uid = pwd.getpwnam("postgres").pw_uid
    except KeyError:
        pytest.skip("no 'postgres' OS user to own the tablespace folder")
    # The server runs as `postgres`: the folder must be reachable by it (pytest's tmp is not).
    root = Path(tempfile.mkdtemp(prefix="albert-pg-disk-"))
    root.chmod(0o755)
    with small_disk(root / "disk", 4) as disk:
        os.chown(disk.path, postgres_uid, -1)
        with admin.connect() as c:
            c.execute(text(f"CREATE TABLESPACE small_disk LOCATION '{disk.path}'"))
            c.execute(text("CREATE DATABASE full_disk TABLESPACE small_disk"))
        store = None
        try:
            store = AnnotationStore(base.set(database="full_disk"))
            saved = [store.add(**record(0)).id]
            disk.fill()
            with pytest.raises(AnnotationError, match="disk is full") as info:
                for n in range(1, 5000):  # rows fit in the current page until it is full
                    saved.append(store.add(**record(n)).id)
            assert info.value.__cause__ is not None
            assert getattr(info.value.__cause__.orig, "sqlstate", None) == "53100"
            assert {a.id for a in store.search(session_id="alice", limit=None)} == set(saved)
            disk.free()
            saved.append(store.add(**record(9999)).id)
            assert {a.id for a in store.search(session_id="alice", limit=None)} == set(saved)
        finally:
            if store is not None:
                store.close()
            disk.free()
            with admin.connect() as c:
                c.execute(text("DROP DATABASE IF EXISTS full_disk WITH (FORCE)"))
                c.execute(text("DROP TABLESPACE IF EXISTS small_disk"))
            admin.dispose()
    shutil.rmtree(root, ignore_errors=True)
