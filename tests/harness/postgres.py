"""A real PostgreSQL for tests that run against SQLite and PostgreSQL alike.

PostgreSQL comes from ``ALBERT_DEMO_TEST_POSTGRES_URL`` if set (each test gets its own
throwaway schema there, nothing else is touched); otherwise, if Debian's server binaries
are installed (``apt-get install -y postgresql``), a throwaway cluster is started on a free
loopback port for the test session (as the ``postgres`` OS user when running as root);
otherwise the PostgreSQL cases are skipped.

A folder's conftest imports the fixtures it needs:

    from tests.harness.postgres import db_url, postgres_url  # noqa: F401

`db_url` is parametrized: each test runs once on SQLite (tmp_path) and once on PostgreSQL.
`TempCluster` also serves scripts (e.g. tests/campaigns/measure_throughput.py).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text as sql_text
from sqlalchemy.engine import make_url

from tests.harness.app import ROOT, free_port

# Code a subprocess runs first: the package is light (keras loads lazily).
LIGHT_IMPORT_PRELUDE = "import sys\nsys.path.insert(0, %r)\n" % str(ROOT)


def pg_bindir() -> str | None:
    def ver(p):
        m = re.search(r"/postgresql/(\d+)/", p)
        return int(m.group(1)) if m else 0

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=ver)
    return os.path.dirname(found[-1]) if found else None


class TempCluster:
    """A throwaway PostgreSQL cluster: `start()` -> a URL of an empty database; `stop()`
    removes it."""

    def __init__(self, bindir: str):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="albert-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.root, ignore_errors=True)
                pytest.skip("running as root but no 'postgres' OS user to run initdb as")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [os.path.join(self.bindir, args[0]), *args[1:]]
        if self.as_postgres:
            if shutil.which("runuser"):
                cmd = ["runuser", "-u", "postgres", "--", *cmd]
            else:
                import shlex

                cmd = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(cmd)]
        return subprocess.run(
            cmd, check=check, capture_output=True, text=True, timeout=120, cwd=self.root
        )

    def start(self) -> str:
        try:
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
            )
            for attempt in range(3):
                r = self._run(
                    "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                    "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1",
                    "start", check=False,
                )
                if r.returncode == 0:
                    break
                self.port = free_port()  # lost a race for the port; retry
            else:
                log = self.log.read_text(errors="replace") if self.log.exists() else ""
                raise RuntimeError(f"pg_ctl start failed: {r.stderr}\n{log[-2000:]}")
        except subprocess.CalledProcessError as e:
            self.stop()
            raise RuntimeError(f"{e.cmd} failed: {e.stderr}") from None
        admin = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        eng = create_engine(admin, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(sql_text("CREATE DATABASE albert_demo_test"))
        eng.dispose()
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/albert_demo_test"

    def stop(self) -> None:
        if self.data.exists():
            # immediate: the cluster is thrown away, skip the shutdown checkpoint
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def light_import_prelude():
    return LIGHT_IMPORT_PRELUDE


@pytest.fixture(scope="session")
def postgres_url():
    url = os.environ.get("ALBERT_DEMO_TEST_POSTGRES_URL", "").strip()
    if url:
        yield url
        return
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL not available: set ALBERT_DEMO_TEST_POSTGRES_URL or "
            "`apt-get install -y postgresql` (needs /usr/lib/postgresql/*/bin/initdb)"
        )
    cluster = TempCluster(bindir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """A URL for an empty database private to this test."""
    if request.param == "sqlite":
        yield f"sqlite+pysqlite:///{tmp_path / 'annotations.sqlite3'}"
        return
    base = make_url(request.getfixturevalue("postgres_url"))
    if base.drivername in ("postgres", "postgresql"):
        base = base.set(drivername="postgresql+psycopg")
    schema = "t_" + uuid.uuid4().hex[:16]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sql_text(f'CREATE SCHEMA "{schema}"'))  # name is generated, not input
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(sql_text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
