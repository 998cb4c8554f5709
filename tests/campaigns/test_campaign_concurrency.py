"""Many annotators at once: 20 threads over two service instances (two engines, as two app
processes would have), two real OS processes on PostgreSQL, and kill -9 mid-campaign.
Every item must end with exactly `overlap` judgments from distinct people."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select

from albert_demo.campaigns import NotLeased
from albert_demo.campaigns import schema
from tests.campaigns.conftest import OWNER, people
from tests.harness.timing import budget

# Threads, two processes and kill -9 on a real PostgreSQL, with a timing bound.
pytestmark = pytest.mark.system

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N_ITEMS = 40
OVERLAP = 3


def make_campaign(service, n_items=N_ITEMS, overlap=OVERLAP):
    text = "\n".join(f"Item {i} is [MASK]." for i in range(n_items)).encode()
    return service.create(OWNER, "Load", source=text, fmt="txt", presets=["fake"],
                          overlap=overlap)["id"]


def annotate_until_done(service, annotator, campaign_id, acknowledged):
    while True:
        item = service.next(annotator, campaign_id)
        if item["item_id"] is None:
            return
        words = item["masks"][0]["options"]
        choice = words[hash((annotator.id, item["item_id"])) % 2]
        try:
            service.submit(annotator, campaign_id, item["item_id"], [[choice]])
        except NotLeased:
            continue
        acknowledged.append((item["item_id"], annotator.id))


def check_exactly(service, campaign_id, acknowledged, n_items=N_ITEMS, overlap=OVERLAP):
    with service.engine.connect() as conn:
        rows = conn.execute(select(schema.judgments.c.item_id, schema.judgments.c.annotator,
                                   schema.judgments.c.kind)
                            .where(schema.judgments.c.campaign_id == campaign_id)).all()
        judged = dict(conn.execute(select(schema.items.c.id, schema.items.c.judged)
                                   .where(schema.items.c.campaign_id == campaign_id)).all())
    per_item = Counter(r.item_id for r in rows)
    assert len(per_item) == n_items and set(per_item.values()) == {overlap}
    assert all(r.kind == "judged" for r in rows)
    assert len({(r.item_id, r.annotator) for r in rows}) == len(rows)  # distinct people
    assert set(judged.values()) == {overlap}
    assert set(acknowledged) == {(r.item_id, r.annotator) for r in rows}  # none lost


def test_twenty_annotators_two_services(open_service, db_url):
    services = [open_service(), open_service()]
    campaign_id = make_campaign(services[0])
    acknowledged, errors = [], []

    def work(n, annotator):
        try:
            annotate_until_done(services[n % 2], annotator, campaign_id, acknowledged)
        except Exception as e:  # surfaced below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(n, a)) for n, a in enumerate(people(20))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    seconds = time.perf_counter() - start
    assert not errors, errors[:3]
    check_exactly(services[1], campaign_id, acknowledged)
    backend = services[0].engine.dialect.name
    print(f"\n{backend}: {len(acknowledged)} judgments by 20 annotators over two services "
          f"in {seconds:.2f} s = {len(acknowledged) / seconds:.0f} judgments/s "
          "(next + submit per judgment)")


WORKER = r"""
import json, sys
sys.path.insert(0, {repo!r})
from albert_demo.annotations import AnnotationStore
from albert_demo.campaigns import CampaignService, NotLeased
from albert_demo.campaigns.identity import Annotator
from tests.campaigns.conftest import FakeCache

store = AnnotationStore({url!r})
service = CampaignService(store, FakeCache())
names = sys.argv[1].split(",")
import threading
lock = threading.Lock()

def work(name):
    me = Annotator.user(name)
    while True:
        item = service.next(me, {campaign_id})
        if item["item_id"] is None:
            return
        try:
            service.submit(me, {campaign_id}, item["item_id"], [[item["masks"][0]["options"][0]]])
        except NotLeased:
            continue
        with lock:  # acknowledged: committed before this line is printed
            print(json.dumps([item["item_id"], me.id]), flush=True)

threads = [threading.Thread(target=work, args=(n,)) for n in names]
for t in threads: t.start()
for t in threads: t.join()
"""


def _worker(db_url, campaign_id, names):
    code = WORKER.format(repo=REPO, url=db_url, campaign_id=campaign_id)
    return subprocess.Popen([sys.executable, "-c", code, ",".join(names)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "JAX_PLATFORMS": "cpu"})


def _acknowledged(output):
    return [tuple(json.loads(line)) for line in output.splitlines() if line.startswith("[")]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_processes_postgres(service, db_url):
    campaign_id = make_campaign(service)
    names = [a.name for a in people(20)]
    procs = [_worker(db_url, campaign_id, names[:10]), _worker(db_url, campaign_id, names[10:])]
    acknowledged = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        acknowledged += _acknowledged(out)
    check_exactly(service, campaign_id, acknowledged)


def test_kill_9_loses_no_acknowledged_judgment(service, db_url):
    campaign_id = make_campaign(service, n_items=400)
    worker = _worker(db_url, campaign_id, [a.name for a in people(4)])
    seen = []
    deadline = time.monotonic() + 120
    while len(seen) < 30 and time.monotonic() < deadline:  # well into the campaign
        line = worker.stdout.readline()
        if line.startswith("["):
            seen.append(line)
    os.kill(worker.pid, signal.SIGKILL)
    out, _ = worker.communicate(timeout=60)
    acknowledged = _acknowledged("".join(seen) + out)
    assert len(acknowledged) >= 30
    with service.engine.connect() as conn:
        stored = {(r.item_id, r.annotator) for r in conn.execute(
            select(schema.judgments.c.item_id, schema.judgments.c.annotator)
            .where(schema.judgments.c.campaign_id == campaign_id))}
        judged = sum(conn.execute(select(schema.items.c.judged)
                                  .where(schema.items.c.campaign_id == campaign_id)).scalars())
    assert set(acknowledged) <= stored  # every acknowledged judgment survived
    assert judged == len(stored)  # counters and rows agree: no half-written answer
    # The queue carries on: the killed workers' leases expire, the items go to others.
    assert service.next(people(5)[4], campaign_id)["item_id"] is not None


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_an_item_locked_for_a_moment_is_not_reported_as_nothing_left(service, db_url):
    """SKIP LOCKED passes over a row another transaction holds (someone answering or
    leasing it). When that is the last open item, `next` must wait for the commit, not tell
    the annotator "nothing left" (they would stop while the item still needs them: the
    two-process test saw an item end with 2 of 3 judgments)."""
    from sqlalchemy import create_engine, text
    campaign_id = make_campaign(service, n_items=1, overlap=2)
    item_id = service.next(people(1)[0], campaign_id)["item_id"]
    holder = create_engine(db_url)
    with holder.connect() as conn:
        conn.execute(text("SELECT id FROM campaign_items WHERE id = :i FOR UPDATE"),
                     {"i": item_id})
        threading.Timer(0.3, conn.commit).start()  # the holder commits 0.3 s later
        start = time.monotonic()
        shown = service.next(people(2)[1], campaign_id)
        waited = time.monotonic() - start
    holder.dispose()
    assert shown["item_id"] == item_id, shown
    assert 0.2 < waited < budget(3)
