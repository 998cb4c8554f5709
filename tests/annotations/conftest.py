"""Fixtures for the annotation-store tests: every store test runs against SQLite (tmp_path)
and a real PostgreSQL server (`tests.harness.postgres`: a URL from
``ALBERT_DEMO_TEST_POSTGRES_URL``, else a throwaway cluster, else those cases skip)."""

from __future__ import annotations

import pytest

from albert_demo.annotations import AnnotationStore
from tests.harness.postgres import db_url, light_import_prelude, postgres_url  # noqa: F401


@pytest.fixture
def store(db_url):
    s = AnnotationStore(db_url)
    yield s
    s.close()


@pytest.fixture
def open_store(db_url):
    """Factory for extra stores on the same database (closed at teardown)."""
    opened = []

    def _open(**kw):
        s = AnnotationStore(db_url, **kw)
        opened.append(s)
        return s

    yield _open
    for s in opened:
        s.close()
