#!/usr/bin/env python
"""Load run: N concurrent gradio_client users against a launched app on loopback.

Each user loops for `--seconds`: /predict (mixed lengths), /attention, /annotate, with a
fine-tune running in the background when `--finetune` is given. Prints requests/s,
p50/p95/p99 latency per endpoint and every error. Bounded in users, time and requests;
talks to 127.0.0.1 only.

    python tests/load/run_load.py --users 50 --seconds 60 --finetune
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.harness.loopback_client import make_client  # noqa: E402
SENTENCES = ["The sky is [MASK].", "I forgot my [MASK] at home.",
             "She opened the [MASK] and walked into the [MASK] room.",
             "After the long meeting, the committee finally agreed to [MASK] the proposal "
             "that had been discussed for several weeks by every member.",
             "He drank a cup of [MASK] every morning before work."]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(data_dir, port):
    env = dict(os.environ, ALBERT_DEMO_DATA_DIR=str(data_dir), GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    return proc


def stop(proc):
    """Stop the launched server: SIGTERM, then kill after 20 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_ready(url, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            client = make_client(url)
            client.predict("The sky is [MASK].", "albert_tiny_en_uncased", 3,
                           api_name="/predict")
            # Measured once every warm-up compile is done (salience's is the last).
            stats = client.predict(api_name="/engine_stats")
            if stats["warm"] and stats.get("salience_warm", True):
                return
            time.sleep(1)
        except Exception:
            time.sleep(1)
    raise TimeoutError(f"app at {url} did not answer within {timeout}s")


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q / 100 * len(values)))] if values else float("nan")


def user(url, index, begin, stop_at, results, errors, lock):
    rng = random.Random(index)
    client = make_client(url)
    time.sleep(max(0.0, begin - time.time()))  # everyone starts together
    session = f"load-user-{index}"
    while time.time() < stop_at:
        text = rng.choice(SENTENCES)
        kind = rng.choices(["predict", "attention", "annotate"], [6, 2, 1])[0]
        start = time.perf_counter()
        try:
            if kind == "predict":
                client.predict(text, "albert_tiny_en_uncased", rng.randint(1, 20),
                               api_name="/predict")
            elif kind == "attention":
                client.predict(text, "albert_tiny_en_uncased", rng.randint(0, 5),
                               rng.randint(0, 5), api_name="/attention")
            else:
                client.predict(text, "albert_tiny_en_uncased", 0, "right", "", "load", "",
                               session, api_name="/annotate")
        except Exception as error:  # every failure is reported, none is hidden
            with lock:
                errors.append(f"{kind}: {type(error).__name__}: {error}"[:300])
            continue
        with lock:
            results.setdefault(kind, []).append(time.perf_counter() - start)


def user_process(url, indices, begin, stop_at, queue):
    """A process of user threads (one Python process alone is GIL-bound by its clients).

    Real users' clients run on their own machines; here they share the server's cores, so
    they run at a lower priority (nice 10) to leave the server the share it would have."""
    os.nice(10)
    results, errors, lock = {}, [], threading.Lock()
    threads = [threading.Thread(target=user, args=(url, i, begin, stop_at, results, errors,
                                                   lock)) for i in indices]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, stop_at - time.time()) + 120)
    import resource
    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put((results, errors, usage.ru_utime + usage.ru_stime))


class ServerCPU:
    """CPU seconds the launched server (all its threads) used in the measured window."""

    def __init__(self, proc):
        self.proc, self.seconds, self._start = proc, None, None

    def _now(self):
        if self.proc is None:
            return None
        import psutil
        times = psutil.Process(self.proc.pid).cpu_times()
        return times.user + times.system

    def start(self):
        self._start = self._now()

    def stop(self):
        end = self._now()
        if end is not None and self._start is not None:
            self.seconds = round(end - self._start, 1)


def start_finetune(url, workdir):
    """Start one fine-tune through the app's API (if the app offers it)."""
    from gradio_client import handle_file
    client = make_client(url)
    data = Path(workdir) / "train.txt"
    data.write_text("\n".join(f"The model number {i} was trained on the data set."
                              for i in range(400)))
    try:
        client.predict("load-trainer", handle_file(str(data)), None, False,
                       "albert_tiny_en_uncased", "load-test", 400, 0, 5e-5, 8, 64, 0.15, 0.1,
                       False, "", api_name="/finetune_start")
        return client.predict("load-trainer", api_name="/finetune_status").get("message")
    except Exception as error:
        return f"fine-tune not started: {error}"


def finetune_final(url):
    try:
        state = make_client(url).predict("load-trainer", api_name="/finetune_status")
        return {k: state.get(k) for k in ("status", "step", "message")}
    except Exception as error:
        return f"status unavailable: {error}"


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--url", help="an app already running on loopback (else one is launched)")
    p.add_argument("--finetune", action="store_true", help="run one fine-tune meanwhile")
    p.add_argument("--processes", type=int, default=4,
                   help="client processes the users are spread over")
    p.add_argument("--json", help="write the summary here too")
    args = p.parse_args()
    args.users = max(1, min(args.users, 200))
    args.seconds = max(1.0, min(args.seconds, 600.0))
    proc, workdir = None, tempfile.mkdtemp(prefix="albert-load-")
    url = args.url
    if url is None:
        port = free_port()
        proc = launch(Path(workdir) / "data", port)
        url = f"http://127.0.0.1:{port}/"
    try:
        t0 = time.time()
        wait_ready(url)
        print(f"app ready at {url} after {time.time() - t0:.1f}s", flush=True)
        finetune_note = None
        if args.finetune:
            finetune_note = start_finetune(url, workdir)
            print("fine-tune:", finetune_note, flush=True)
        import multiprocessing
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        begin = time.time() + 15  # the client processes need a moment to start
        stop_at = begin + args.seconds
        groups = [list(range(args.users))[n::args.processes] for n in range(args.processes)]
        procs = [context.Process(target=user_process, args=(url, g, begin, stop_at, queue))
                 for g in groups if g]
        for worker in procs:
            worker.start()
        server_cpu = ServerCPU(proc)
        time.sleep(max(0.0, begin - time.time()))
        server_cpu.start()
        results, errors, client_cpu = {}, [], 0.0
        for _ in procs:
            part, errs, cpu_seconds = queue.get(timeout=args.seconds + 300)
            client_cpu += cpu_seconds
            for kind, values in part.items():
                results.setdefault(kind, []).extend(values)
            errors.extend(errs)
        server_cpu.stop()
        for worker in procs:
            worker.join(timeout=30)
        if args.finetune:
            finetune_note = {"started": finetune_note, "at_end": finetune_final(url)}
        total = sum(len(v) for v in results.values())
        sys.path.insert(0, str(REPO / "benchmarks"))
        import common  # the machine's CPU and vector ISA go with every figure
        summary = {"machine": common.machine(),
                   "users": args.users, "seconds": args.seconds, "requests": total,
                   "errors": len(errors), "requests_per_s": total / args.seconds,
                   "finetune": finetune_note, "endpoints": {},
                   # where the 2 cores went: server (incl. fine-tune) vs load generator
                   "server_cpu_s": server_cpu.seconds, "client_cpu_s": round(client_cpu, 1)}
        for kind, values in sorted(results.items()):
            summary["endpoints"][kind] = {
                "count": len(values), "p50_ms": 1000 * percentile(values, 50),
                "p95_ms": 1000 * percentile(values, 95), "p99_ms": 1000 * percentile(values, 99)}
        every = [v for values in results.values() for v in values]
        summary.update(p50_ms=1000 * percentile(every, 50), p95_ms=1000 * percentile(every, 95),
                       p99_ms=1000 * percentile(every, 99))
        print(json.dumps(summary, indent=2, default=str))
        for line in errors[:20]:
            print("ERROR", line)
        if args.json:
            Path(args.json).write_text(json.dumps({**summary, "error_lines": errors[:50]},
                                                  indent=2, default=str))
        return 0 if not errors else 1
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
