"""Judgments per second, sustained, with 20 concurrent annotators over two service
instances (two engines, as two app processes), overlap 3, on SQLite and PostgreSQL.

    python -m tests.campaigns.measure_throughput --items 300

Each judgment is a full `next` (lease) + `submit`; the stand-in model keeps the model out
of the figure (items' predictions are computed once, at creation).
"""

import argparse
import tempfile
import threading
import time
from pathlib import Path

from albert_demo.annotations import AnnotationStore
from albert_demo.campaigns import CampaignService
from tests.harness.postgres import TempCluster, pg_bindir
from tests.campaigns.conftest import OWNER, FakeCache, people
from tests.campaigns.test_campaign_concurrency import annotate_until_done, check_exactly


def measure(url, items, annotators=20, overlap=3):
    stores = [AnnotationStore(url), AnnotationStore(url)]
    services = [CampaignService(s, FakeCache()) for s in stores]
    text = "\n".join(f"Item {i} is [MASK]." for i in range(items)).encode()
    campaign_id = services[0].create(OWNER, "Throughput", source=text, fmt="txt",
                                     presets=["fake"], overlap=overlap)["id"]
    acknowledged = []
    threads = [threading.Thread(target=annotate_until_done,
                                args=(services[n % 2], a, campaign_id, acknowledged))
               for n, a in enumerate(people(annotators))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    check_exactly(services[0], campaign_id, acknowledged, items, overlap)
    for s in stores:
        s.close()
    return len(acknowledged), seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--postgres-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = [("sqlite", f"sqlite+pysqlite:///{Path(tmp) / 'c.sqlite3'}")]
        cluster = None
        if args.postgres_url:
            urls.append(("postgresql", args.postgres_url))
        elif pg_bindir():
            cluster = TempCluster(pg_bindir())
            urls.append(("postgresql", cluster.start()))
        try:
            for name, url in urls:
                n, seconds = measure(url, args.items)
                print(f"{name}: {n} judgments, 20 annotators, 2 service instances, overlap 3: "
                      f"{seconds:.1f} s = {n / seconds:.0f} judgments/s", flush=True)
        finally:
            if cluster:
                cluster.stop()


if __name__ == "__main__":
    main()
