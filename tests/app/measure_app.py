"""Measure the launched app: cold start to first /predict, p50/p95 /predict latency,
compilations during mixed-length requests after warm-up.

    python -m tests.app.measure_app [--requests 200] [--data-dir DIR]

Run it twice with the same --data-dir to see the persistent compilation cache at work.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tests.harness.app import LaunchedApp, wait_for_warm_up
from tests.app.test_server import mixed_texts
from tests.harness.loopback_client import make_client


def raw_http_latencies(url, texts, preset):
    """The server's own latency: gradio_client polls its message queue every 50 ms, so its
    timings have a floor the browser and plain HTTP callers do not see."""
    import httpx
    latencies = []
    with httpx.Client(base_url=url.rstrip("/"), timeout=60) as http:
        for text in texts:
            start = time.perf_counter()
            # Plain HTTP sends every argument (gradio_client fills defaults): no session.
            event = http.post("/gradio_api/call/predict",
                              json={"data": [text, preset, 5, ""]})
            event_id = event.raise_for_status().json()["event_id"]
            with http.stream("GET", f"/gradio_api/call/predict/{event_id}") as stream:
                lines = list(stream.iter_lines())
            if "event: complete" not in lines:
                raise RuntimeError(f"/predict over HTTP did not complete: {lines[:4]}")
            latencies.append(time.perf_counter() - start)
    return sorted(latencies)


def direct_http_latencies(url, texts, preset):
    """One POST to /gradio_api/run/predict per request: no event stream, no session."""
    import httpx
    latencies = []
    with httpx.Client(base_url=url.rstrip("/"), timeout=60) as http:
        for text in texts:
            start = time.perf_counter()
            http.post("/gradio_api/run/predict",
                      json={"data": [text, preset, 5, ""]}).raise_for_status()
            latencies.append(time.perf_counter() - start)
    return sorted(latencies)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--preset", default="albert_tiny_en_uncased",
                        help="preset measured for p50/p95 (a local folder works too)")
    args = parser.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="albert_measure_"))
    app = LaunchedApp(data_dir, data_dir / "app.log")
    try:
        app.wait_until_serving()
        client = make_client(app.url)
        client.predict("The sky is [MASK].", api_name="/predict")
        print(f"cold start to first /predict: {time.perf_counter() - app.started:.1f} s")
        wait_for_warm_up(client)  # measured once the last warm-up compile is done
        print(f"warm-up finished: {time.perf_counter() - app.started:.1f} s")
        texts = mixed_texts(args.requests, seed=1)
        if args.preset != "albert_tiny_en_uncased":  # load it and compile its buckets first
            for text in texts:
                client.predict(text, args.preset, 5, api_name="/predict")
        latencies = []
        for text in texts:
            start = time.perf_counter()
            client.predict(text, args.preset, 5, api_name="/predict")
            latencies.append(time.perf_counter() - start)
        latencies.sort()
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(f"/predict on {args.preset} over {len(latencies)} requests: p50 "
              f"{statistics.median(latencies) * 1e3:.0f} ms, p95 {p95 * 1e3:.0f} ms")
        raw = raw_http_latencies(app.url, texts, args.preset)
        print(f"/predict over plain HTTP (POST /gradio_api/call/predict + its event stream, "
              f"one kept-alive connection): p50 {statistics.median(raw) * 1e3:.0f} ms, "
              f"p95 {raw[int(0.95 * (len(raw) - 1))] * 1e3:.0f} ms")
        direct = direct_http_latencies(app.url, texts, args.preset)
        print(f"/predict over plain HTTP, one POST /gradio_api/run/predict: p50 "
              f"{statistics.median(direct) * 1e3:.0f} ms, "
              f"p95 {direct[int(0.95 * (len(direct) - 1))] * 1e3:.0f} ms")
        before = client.predict(api_name="/engine_stats")["traces"]
        for text in mixed_texts(100, seed=2):
            client.predict(text, args.preset, 5, api_name="/predict")
        after = client.predict(api_name="/engine_stats")["traces"]
        print(f"compilations during 100 mixed-length requests after warm-up: {after - before}")
    finally:
        app.stop()


if __name__ == "__main__":
    main()
