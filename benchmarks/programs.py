#!/usr/bin/env python
"""Throughput for programs: `POST /models/<preset>` (plain HTTP, outside Gradio's queue)
against `/predict` through `gradio_client`, on one launched app, same preset, same texts.

N users (threads in niced client processes, as `tests/load/run_load.py` runs them) loop
fill-mask requests for `--seconds` per run; the two variants run one after the other,
`--rounds` times (route, gradio, route, gradio, ...). Per run: requests/s, p50/p95/p99,
errors, requests per forward pass, and where the CPU went (server process by thread name
vs client processes). The machine's CPU and vector ISA go with every figure. Bounded in
users, seconds, rounds and servers; loopback only.

    python benchmarks/programs.py --users 50 --seconds 60 --rounds 2 --browser \
        --save benchmarks/results/programs-cpu.json
    python benchmarks/programs.py --variants route --servers 2     # a second process
    python benchmarks/programs.py --variants route --py-spy /tmp/spy  # where Python goes

`--browser` adds a person on the page (Debian's chromium, Playwright) who predicts over and
over: its p95 alone first, then during each run.
"""

import argparse
import json
import multiprocessing
import os
import random
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
import common  # noqa: E402
from tests.harness.loopback_client import make_client  # noqa: E402
from tests.load.run_load import (SENTENCES, ServerCPU, free_port, launch,  # noqa: E402
                                 percentile, stop, wait_ready)

PRESET = "albert_tiny_en_uncased"
VARIANTS = ("route", "gradio")


def caller(variant, url):
    """A function (text, top_k) -> words of the first mask, for one user."""
    if variant == "route":
        import requests
        session = requests.Session()  # keep-alive, as any HTTP client would

        def call(text, top_k):
            reply = session.post(f"{url}models/{PRESET}", timeout=120,
                                 json={"inputs": text, "parameters": {"top_k": top_k}})
            reply.raise_for_status()
            found = reply.json()
            return [e["token_str"] for e in (found if isinstance(found[0], dict) else found[0])]
    else:
        client = make_client(url)

        def call(text, top_k):
            found = client.predict(text, PRESET, top_k, api_name="/predict")
            return [p["token"] for p in found["masks"][0]["predictions"]]
    return call


def user(variant, url, index, begin, stop_at, latencies, errors, lock):
    rng = random.Random(index)
    call = caller(variant, url)
    time.sleep(max(0.0, begin - time.time()))  # everyone starts together
    while time.time() < stop_at:
        text, top_k = rng.choice(SENTENCES), rng.randint(1, 20)
        start = time.perf_counter()
        try:
            words = call(text, top_k)
            if len(words) != top_k:
                raise ValueError(f"{len(words)} words for top_k {top_k}")
        except Exception as error:  # every failure is counted and shown, none hidden
            with lock:
                errors.append(f"{type(error).__name__}: {error}"[:300])
            continue
        with lock:
            latencies.append(time.perf_counter() - start)


def user_process(variant, urls, indices, begin, stop_at, queue):
    """Users as threads of one niced process (the clients share the server's cores); user
    i talks to server i mod len(urls), as a balancer in front of them would spread them."""
    os.nice(10)
    latencies, errors, lock = [], [], threading.Lock()
    threads = [threading.Thread(target=user, args=(variant, urls[i % len(urls)], i, begin,
                                                   stop_at, latencies, errors, lock))
               for i in indices]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, stop_at - time.time()) + 120)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put((latencies, errors, usage.ru_utime + usage.ru_stime))


class ServerThreads:
    """CPU seconds per thread name of the server processes in the measured window, e.g.
    how much went to XLA's pool against Python's threads (event loop, workers)."""

    def __init__(self, pids):
        self.pids, self.seconds, self._start = pids, None, {}

    def _now(self):
        import psutil
        names = {}
        for pid in self.pids:
            for thread in psutil.Process(pid).threads():
                try:
                    name = Path(f"/proc/{pid}/task/{thread.id}/comm").read_text().strip()
                except OSError:  # the thread ended meanwhile
                    continue
                names[(pid, thread.id)] = (name, thread.user_time + thread.system_time)
        return names

    def start(self):
        self._start = self._now()

    def stop(self):
        by_name = {}
        for tid, (name, seconds) in self._now().items():
            spent = seconds - self._start.get(tid, (name, 0.0))[1]
            by_name[name] = by_name.get(name, 0.0) + spent
        self.seconds = {name: round(s, 1) for name, s in
                        sorted(by_name.items(), key=lambda item: -item[1]) if s >= 0.1}


def machine_busy_seconds():
    """CPU seconds every core spent on anything but idling, since boot."""
    import psutil
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


class PageUser:
    """A person on the page meanwhile: a real browser (Debian's chromium) that types a
    sentence, presses Predict and waits until the page shows that sentence filled in, over
    and over, from `start()` to `stop()`; `between(t0, t1)` are the seconds from click to
    answer of the predictions clicked in that window."""

    def __init__(self, url):
        self.url, self.timed, self.errors = url, [], []
        self._stop, self._ready = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        from tests.harness.browser import open_page
        try:
            with open_page(self.url, timeout=120_000) as page:
                page.wait_for_selector("#filled-text mark")  # the page's own first answer
                self._ready.set()
                box = page.locator("#input-text textarea")
                n = 0
                while not self._stop.is_set():
                    n += 1
                    marker = f"Visit {n} of the sky"  # a sentence not shown yet
                    box.fill(f"{marker} is [MASK].")
                    clicked, start = time.time(), time.perf_counter()
                    page.locator("#predict-button").click()
                    try:
                        page.wait_for_function(
                            "m => document.querySelector('#filled-text').innerText"
                            ".includes(m) && !document.querySelector('#predict-results')"
                            ".dataset.stale", arg=marker)
                    except Exception as error:  # counted and shown, as programs' errors
                        self.errors.append((clicked, f"{type(error).__name__}: {error}"[:300]))
                        continue
                    self.timed.append((clicked, time.perf_counter() - start))
        finally:
            self._ready.set()

    def start(self, timeout=300):
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the page did not show its first answer")

    def between(self, t0, t1):
        return [seconds for clicked, seconds in self.timed if t0 <= clicked < t1]

    def errors_between(self, t0, t1):
        return [line for clicked, line in self.errors if t0 <= clicked < t1]

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=180)


def py_spy_path():
    """py-spy on PATH or beside this Python, or None."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def record_profile(pid, seconds, path):
    """py-spy sampling the server for `seconds` (only the thread holding the GIL: where Python time goes)."""
    import subprocess
    return subprocess.Popen([py_spy_path(), "record", "--pid", str(pid), "--duration",
                             str(int(seconds)), "--rate", "50", "--format", "raw", "--gil",
                             "--output", str(path), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def shared_batches(urls):
    """(requests, forward passes) of the preset's shared batches so far (/engine_stats),
    over every server."""
    requests = passes = 0
    for url in urls:
        stats = make_client(url).predict(api_name="/engine_stats")
        counts = stats["shared_batches_per_preset"].get(PRESET, {"requests": 0, "passes": 0})
        requests, passes = requests + counts["requests"], passes + counts["passes"]
    return requests, passes


class Servers:
    """N launched apps, each on its own port with its own engine (a second process is
    how more cores would be used: one Python process serves on about one core)."""

    def __init__(self, count, workdir):
        self.ports = [free_port() for _ in range(count)]
        self.urls = [f"http://127.0.0.1:{port}/" for port in self.ports]
        self.procs = [launch(Path(workdir) / f"data-{n}", port)
                      for n, port in enumerate(self.ports)]
        self.cpu = [ServerCPU(proc) for proc in self.procs]
        self.seconds = None

    def wait_ready(self):
        for url in self.urls:
            wait_ready(url)

    def start(self):
        for cpu in self.cpu:
            cpu.start()

    def stop(self):
        for cpu in self.cpu:
            cpu.stop()
        self.seconds = round(sum(cpu.seconds for cpu in self.cpu), 1)

    def close(self):
        for proc in self.procs:
            stop(proc)


# Where a sample of the GIL-holding thread is, by its innermost frame's file.
PARTS = (("our code (service, predictor, tokenizer)", ("albert_demo/", "sentencepiece")),
         ("JAX dispatch", ("jax/", "jaxlib")),
         ("JSON", ("json/",)),
         ("thread hand-off (anyio, threading, queue)", ("anyio/", "threading.py", "queue.py")),
         ("HTTP server and event loop (uvicorn, asyncio)", ("uvicorn/", "asyncio/")),
         ("routing and middleware (FastAPI, Starlette, Gradio)",
          ("fastapi/", "starlette/", "gradio/")))


def python_time_by_part(path):
    """{part: share of the samples} from py-spy's collapsed stacks (GIL holder only)."""
    counts, total = {}, 0
    for line in Path(path).read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        leaf = stack.split(";")[-1]
        part = next((name for name, files in PARTS if any(f in leaf for f in files)), "other")
        counts[part] = counts.get(part, 0) + int(n)
        total += int(n)
    return {"samples": total, **{part: round(n / total, 3) for part, n in
                                 sorted(counts.items(), key=lambda item: -item[1])}}


def run(variant, servers, users, seconds, processes, profile=None, page_user=None):
    urls = servers.urls
    batched_before = shared_batches(urls)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    begin = time.time() + 10  # the client processes need a moment to start
    stop_at = begin + seconds
    groups = [list(range(users))[n::processes] for n in range(processes)]
    workers = [context.Process(target=user_process,
                               args=(variant, urls, g, begin, stop_at, queue))
               for g in groups if g]
    for w in workers:
        w.start()
    time.sleep(max(0.0, begin - time.time()))
    servers.start()
    threads = ServerThreads([proc.pid for proc in servers.procs])
    threads.start()
    busy, load = machine_busy_seconds(), common.load_average()
    profiler = (record_profile(servers.procs[0].pid, seconds, profile) if profile
                else None)
    latencies, errors, client_cpu = [], [], 0.0
    for _ in workers:
        part, errs, cpu = queue.get(timeout=seconds + 300)
        latencies += part
        errors += errs
        client_cpu += cpu
    servers.stop()
    threads.stop()
    browser = page_user.between(begin, stop_at) if page_user is not None else None
    busy = machine_busy_seconds() - busy
    for w in workers:
        w.join(timeout=30)
    python_parts = None
    if profiler is not None:
        profiler.wait(timeout=60)
        python_parts = python_time_by_part(profile) if Path(profile).exists() else None
    requests, passes = (a - b for a, b in zip(shared_batches(urls), batched_before))
    return {"variant": variant, "servers": len(urls), "users": users, "seconds": seconds,
            "requests": len(latencies), "requests_per_s": round(len(latencies) / seconds, 1),
            "p50_ms": round(1000 * percentile(latencies, 50), 1),
            "p95_ms": round(1000 * percentile(latencies, 95), 1),
            "p99_ms": round(1000 * percentile(latencies, 99), 1),
            "errors": len(errors), "error_lines": errors[:20],
            **({"browser_predictions": len(browser),
                "browser_p95_ms": round(1000 * percentile(browser, 95), 1),
                "browser_errors": page_user.errors_between(begin, stop_at)[:5]}
               if browser is not None else {}),
            # how many requests one forward pass carried, on average
            "requests_per_forward_pass": round(requests / passes, 2) if passes else None,
            # where the cores went in the measured window (client CPU includes start-up)
            "server_cpu_s": servers.seconds, "client_cpu_s": round(client_cpu, 1),
            "server_cpu_s_by_thread_name": threads.seconds,
            **({"python_gil_samples_by_part": python_parts} if python_parts else {}),
            # everything on the machine: the rest is other people's work on a shared VM
            "machine_busy_cpu_s": round(busy, 1), "load_average_before": load}


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--rounds", type=int, default=1, help="route+gradio pairs, interleaved")
    p.add_argument("--processes", type=int, default=4, help="client processes")
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help="which to run, comma-separated (route, gradio)")
    p.add_argument("--py-spy", dest="py_spy", metavar="PREFIX",
                   help="record the server with py-spy in each run: PREFIX-<variant>-<round>"
                        ".txt (collapsed stacks, every thread, native frames off)")
    p.add_argument("--browser", action="store_true",
                   help="a person on the page too (chromium): its p95 idle and in each run")
    p.add_argument("--servers", type=int, default=1,
                   help="app processes, users spread over them (the route only: the "
                        "page's state lives in one process)")
    p.add_argument("--save", help="write the results here (JSON)")
    args = p.parse_args()
    users = max(1, min(args.users, 200))
    seconds = max(1.0, min(args.seconds, 300.0))
    rounds = max(1, min(args.rounds, 5))
    variants = [v for v in VARIANTS if v in args.variants.split(",")]
    if not variants:
        p.error(f"--variants: choose among {', '.join(VARIANTS)}")
    if not 1 <= args.servers <= 4 or (args.servers > 1 and variants != ["route"]):
        p.error("--servers: 1 to 4, and more than 1 only with --variants route")
    if args.py_spy and py_spy_path() is None:  # before minutes of start-up, not after
        p.error("--py-spy: py-spy is not installed (pip install py-spy)")
    workdir = tempfile.mkdtemp(prefix="albert-programs-")
    servers = Servers(args.servers, workdir)
    page_user = None
    try:
        servers.wait_ready()
        page_user = PageUser(servers.urls[0]) if args.browser else None
        idle_browser = None
        if page_user is not None:  # its idle p95 first: 30 s with nobody else
            page_user.start()
            idle_from = time.time()
            time.sleep(30)
            idle_browser = page_user.between(idle_from, time.time())
            print(json.dumps({"browser_idle_p95_ms": round(1000 * percentile(idle_browser, 95),
                                                             1),
                              "browser_idle_predictions": len(idle_browser)}), flush=True)
        runs = []
        for n in range(rounds):
            for variant in variants:
                profile = args.py_spy and f"{args.py_spy}-{variant}-{n + 1}.txt"
                runs.append({"round": n + 1, **run(variant, servers, users, seconds,
                                                   args.processes, profile, page_user)})
                print(json.dumps({k: v for k, v in runs[-1].items() if k != "error_lines"}),
                      flush=True)
        summary = {}
        for variant in variants:
            mine = [r for r in runs if r["variant"] == variant]
            summary[variant] = {k: [r[k] for r in mine] for k in (
                "requests_per_s", "p50_ms", "p95_ms", "errors", "server_cpu_s",
                "client_cpu_s", "requests_per_forward_pass")}
            if page_user is not None:
                summary[variant]["browser_p95_over_idle"] = [
                    round(r["browser_p95_ms"] / (1000 * percentile(idle_browser, 95)), 2)
                    for r in mine]
        if set(VARIANTS) <= set(variants):
            route, gradio = summary["route"], summary["gradio"]
            summary["route_over_gradio_requests_per_s"] = [
                round(a / b, 2) if b else None
                for a, b in zip(route["requests_per_s"], gradio["requests_per_s"])]
            summary["route_over_gradio_p95"] = [
                round(a / b, 2) for a, b in zip(route["p95_ms"], gradio["p95_ms"])]
        if idle_browser is not None:
            summary["browser_idle_p95_ms"] = round(1000 * percentile(idle_browser, 95), 1)
        result = {"machine": common.machine(), "date": time.strftime("%Y-%m-%d"),
                  "preset": PRESET, "servers": args.servers, "users": users,
                  "seconds": seconds,
                  "client_processes": args.processes, "runs": runs, "summary": summary}
        print(json.dumps(summary, indent=2))
        if args.save:
            Path(args.save).write_text(json.dumps(result, indent=2) + "\n")
        return 0 if not any(r["errors"] for r in runs) else 1
    finally:
        if page_user is not None:
            page_user.stop()
        servers.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
