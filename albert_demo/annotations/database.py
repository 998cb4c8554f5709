"""Connecting to the annotation database: the engine for SQLite or PostgreSQL, and what a
full disk looks like on each. The annotation and campaign tables share this engine."""

from __future__ import annotations

import errno
import sqlite3
import time

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url


def normalize_url(url: str | URL) -> URL:
    """Accept ``postgres://`` / ``postgresql://`` and pick the psycopg 3 driver."""
    u = make_url(url)
    if u.drivername in ("postgres", "postgresql"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def storage_full(error: BaseException) -> bool:
    """SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100), or ENOSPC from the OS."""
    cause = getattr(error, "orig", None) or error
    if getattr(cause, "sqlstate", None) == "53100":
        return True
    if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
        return True
    text = str(cause).lower()
    return "database or disk is full" in text or "no space left on device" in text


def _py_lower(value):
    # SQLite's built-in lower() folds ASCII only; use Python's Unicode folding
    # so case-insensitive search behaves the same as on PostgreSQL.
    return value.lower() if isinstance(value, str) else value


def make_engine(url: URL, busy_timeout_s: float, pool_size: int, max_overflow: int) -> Engine:
    """SQLite (WAL, synchronous FULL, foreign keys, BEGIN IMMEDIATE for writers, Unicode
    lower()) or PostgreSQL (pre-ping), pooled."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise ValueError("use a file path for SQLite (WAL needs a file)")
        engine = create_engine(
            url,
            connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        busy_ms = int(busy_timeout_s * 1000)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _rec):
            # We issue BEGIN ourselves (see _on_begin).
            dbapi_conn.isolation_level = None
            dbapi_conn.create_function("lower", 1, _py_lower, deterministic=True)
            cur = dbapi_conn.cursor()
            try:
                cur.execute(f"PRAGMA busy_timeout = {busy_ms:d}")
                deadline = time.monotonic() + busy_timeout_s
                while True:  # switching to WAL needs a brief exclusive lock
                    try:
                        mode = cur.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                        break
                    except sqlite3.OperationalError as e:
                        if "locked" not in str(e) or time.monotonic() > deadline:
                            raise
                        time.sleep(0.01)
                if str(mode).lower() != "wal":
                    raise RuntimeError(f"could not enable WAL journal mode (got {mode!r})")
                cur.execute("PRAGMA synchronous = FULL")
                cur.execute("PRAGMA foreign_keys = ON")
            finally:
                cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            # Writers take the write lock up front (BEGIN IMMEDIATE) so the
            # busy timeout applies instead of a deadlock-on-upgrade error.
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")

        return engine
    if backend == "postgresql":
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
    raise ValueError(f"unsupported database backend {backend!r} (use sqlite or postgresql)")
