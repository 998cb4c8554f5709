"""Sustained write throughput of the annotation store.

    python -m albert_demo.annotations.bench                      # temp SQLite file
    python -m albert_demo.annotations.bench --url postgresql+psycopg://user@127.0.0.1:5432/db
    python -m albert_demo.annotations.bench --threads 1 4 16 --seconds 5

Each thread calls ``store.add`` (one committed, durable transaction per
annotation) in a loop for ``--seconds``.  Rows written by the benchmark are
deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import delete

from .schema import annotations as T
from .store import AnnotationStore

PREDS = [{"token": f"\u2581w{i}", "token_id": i, "score": 1.0 / (i + 2)} for i in range(5)]


def bench(store: AnnotationStore, threads: int, seconds: float) -> dict:
    run = f"bench-{uuid.uuid4().hex[:8]}"
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads + 1)
    stop_at = [0.0]

    def worker(t: int) -> None:
        lat = latencies[t]
        start.wait()
        try:
            i = 0
            while time.perf_counter() < stop_at[0]:
                t0 = time.perf_counter()
                store.add(session_id=f"{run}-{t}", preset="bench", mask_index=3,
                          text=f"benchmark sentence {i} with a [MASK] token 😀",
                          predictions=PREDS, verdict="right", note="bench")
                lat.append(time.perf_counter() - t0)
                i += 1
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    ths = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in ths:
        th.start()
    t_start = time.perf_counter()
    stop_at[0] = t_start + seconds
    start.wait()
    for th in ths:
        th.join()
    elapsed = time.perf_counter() - t_start
    if errors:
        raise errors[0]
    flat = sorted(x for lat in latencies for x in lat)
    n = len(flat)
    with store.engine.begin() as conn:
        written = conn.execute(
            T.select().with_only_columns(T.c.id).where(T.c.session_id.like(f"{run}-%"))
        ).fetchall()
    result = {
        "backend": store.backend,
        "threads": threads,
        "seconds": round(elapsed, 2),
        "annotations": n,
        "rows_in_db": len(written),
        "per_second": round(n / elapsed, 1),
        "latency_ms_p50": round(statistics.median(flat) * 1000, 2) if flat else None,
        "latency_ms_p99": round(flat[int(0.99 * (n - 1))] * 1000, 2) if flat else None,
    }
    result["_run"] = run
    return result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="SQLAlchemy URL (default: a temporary SQLite file)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--keep", action="store_true", help="keep the rows written")
    args = ap.parse_args(argv)

    tmp = None
    if args.url:
        store = AnnotationStore(args.url, pool_size=max(args.threads), max_overflow=0)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="albert-bench-")
        store = AnnotationStore.sqlite(Path(tmp.name) / "bench.sqlite3",
                                       pool_size=max(args.threads), max_overflow=0)
    try:
        for n in args.threads:
            r = bench(store, n, args.seconds)
            run = r.pop("_run")
            print(json.dumps(r), flush=True)
            if not args.keep:
                with store.engine.begin() as conn:
                    conn.execute(delete(T).where(T.c.session_id.like(f"{run}-%")))
    finally:
        store.close()
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
