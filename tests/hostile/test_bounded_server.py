"""One visitor cannot take a public server down: the app runs under a 6 GB address-space
cap while 20 clients predict, and meanwhile someone sends the worst attention requests the
server allows (and the one it must refuse), the largest fine-tune it accepts (and one it
must refuse), a 300 MB upload and a storm of exports, from a process of their own (as from
other machines). The server stays up, its memory stays under the cap, no upload or export
is left in the temporary folders, and the other clients' p95 stays within 2x of their p95
without the hostile load: over the whole attack, and from the moment the attacks' start is
over (the largest fine-tune training).

Figures are printed (run with -s to see them); the closing note of issue 19 quotes them.
"""

import http.client
import multiprocessing
import random
import shutil
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from albert_demo.presets.registry import EMBEDDED_PRESET
from tests.harness.app import LaunchedApp, wait_for_warm_up
from tests.harness.loopback_client import make_client
from tests.harness.timing import budget

# A helper thread (the RSS watch) that fails would otherwise only warn.
pytestmark = [pytest.mark.system,
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

CAP = 6_000_000_000
CLIENTS = 20
PHASE_S = 40
THINK_S = 1.0  # on average, a person reads the answer for this long before asking again
# The attacks' start (a fine-tune process starting, 512-token attention maps, the export
# storm, the upload) is a burst of a few seconds; after it, what remains is the training.
STEADY_AFTER_S = 12
SENTENCES = ["The sky is [MASK].", "I forgot my [MASK] at home.",
             "She opened the [MASK] and walked into the [MASK] room.",
             "He drank a cup of [MASK] every morning before work."]
LONGEST = "The [MASK] sat on the mat. " + "a " * 500  # ~508 tokens
UPLOAD_BYTES = 300 * 2**20


def p95(values):
    values = sorted(values)
    return values[int(0.95 * (len(values) - 1))]


def predicting_clients(url, seconds, after=None, on_start=None, timeline=None):
    """CLIENTS people predicting for `seconds`, each reading 0.5-1.5 THINK_S between requests;
    -> (latencies, errors). `after` (a list): filled with the latencies of the requests
    sent STEADY_AFTER_S or more after the timed window opened. `on_start()` is called as
    the timed window opens. `timeline` (a list): filled with (sent at, latency, client)."""
    latencies, errors, lock = [], [], threading.Lock()
    window = {}
    # Everyone starts timing together, once connected: a client's first call (its own
    # session and event stream set up, 0.3-0.4 s when 20 connect at once) is not counted,
    # or it alone would set the p95 of a short phase.
    def open_window():
        opened = time.monotonic()
        window.update(opened=opened, stop_at=opened + seconds)
        if on_start is not None:
            on_start()

    ready = threading.Barrier(CLIENTS, action=open_window)

    def one(index):
        client = make_client(url)
        client.predict(SENTENCES[0], EMBEDDED_PRESET, 5, api_name="/predict")
        # People do not act in lockstep: each starts at its own moment in the first second
        # and reads for 0.5-1.5 s. Released together, the 20 clients stayed a wave of 20
        # simultaneous requests (0.2-0.25 s for the last of them even with nothing else
        # running), and the wave that met the attacks' first second set the phase's p95.
        pace = random.Random(index)
        ready.wait()
        time.sleep(index * THINK_S / CLIENTS)
        while time.monotonic() < window["stop_at"]:
            start, began = time.perf_counter(), time.monotonic()
            try:
                client.predict(SENTENCES[index % len(SENTENCES)], EMBEDDED_PRESET, 5,
                               api_name="/predict")
            except Exception as error:  # counted, and the test fails on any
                with lock:
                    errors.append(repr(error))
                continue
            with lock:
                latencies.append(time.perf_counter() - start)
                sent_at = began - window["opened"]
                if timeline is not None:
                    timeline.append((sent_at, latencies[-1], index))
                if after is not None and sent_at >= STEADY_AFTER_S:
                    after.append(latencies[-1])
            time.sleep(THINK_S * pace.uniform(0.5, 1.5))

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one, range(CLIENTS)))
    return latencies, errors


class RssWatch(threading.Thread):
    """Peak resident memory of the server process (and any children) while running."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.process, self.peak, self.done = psutil.Process(pid), 0, threading.Event()

    def run(self):
        while not self.done.is_set():
            try:
                rss = self.process.memory_info().rss + sum(
                    c.memory_info().rss for c in self.process.children(recursive=True))
            except psutil.Error:
                return
            self.peak = max(self.peak, rss)
            time.sleep(0.1)


def post_huge_upload(port):
    """Stream 300 MB to Gradio's upload route; -> HTTP status (the body is never built)."""
    boundary = "albertdemoboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"huge.txt\"\r\nContent-Type: text/plain\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.putrequest("POST", "/gradio_api/upload")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(len(head) + UPLOAD_BYTES + len(tail)))
    connection.endheaders()
    chunk = b"a" * 2**20
    try:
        connection.send(head)
        for _ in range(UPLOAD_BYTES // len(chunk)):
            connection.send(chunk)
        connection.send(tail)
    except OSError:  # the server may close the connection as soon as it has refused
        pass
    try:
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def leftovers(folder):
    """Files under `folder` (an export or an upload left behind), with their sizes."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in Path(folder).rglob("*")
            if p.is_file()}


def attack(url, port, corpus, go, results):
    """Every attack at once, each attacker its own client (gradio_client's event stream is
    not shared safely between threads). Runs in its own process: puts "ready", waits for
    `go`, then puts the outcomes (and the attacks that raised, under "failed")."""
    outcomes, failed = {}, []

    def worst_attention():
        hostile = make_client(url)
        refused = []
        for _ in range(3):
            try:  # everything at ~508 tokens: refused before it is built
                hostile.predict(LONGEST, EMBEDDED_PRESET, -1, -1, "hostile",
                                api_name="/attention")
            except AppError as error:
                refused.append(str(error))
            # the largest single map the server allows
            shape = hostile.predict(LONGEST, EMBEDDED_PRESET, 5, 5, "hostile",
                                    api_name="/attention")["shape"]
        outcomes["attention"] = (refused, shape)

    def fine_tunes():
        hostile = make_client(url)
        args = [handle_file(corpus), None, False, EMBEDDED_PRESET]
        try:  # far over the memory budget: refused with the numbers
            hostile.predict("hostile", *args, "too-big", 5, None, 5e-5, 256, 512, 0.15, 0.1,
                            False, "", api_name="/finetune_start")
            outcomes["huge_finetune"] = "accepted"
        except AppError as error:
            outcomes["huge_finetune"] = str(error)
        hostile.predict("hostile", *args, "largest", 2000, None, 5e-5, 8, 128, 0.15, 0.1,
                        False, "", api_name="/finetune_start")
        time.sleep(PHASE_S / 2)
        outcomes["finetune_status"] = hostile.predict("hostile", api_name="/finetune_status")

    def upload():
        outcomes["upload_status"] = post_huge_upload(port)

    def export_storm():
        def five_exports(_):  # each worker its own client, as separate visitors would be
            client = make_client(url)
            return [client.predict("hostile", "csv", "", "", "", "any", "", "",
                                   api_name="/annotations_export") for _ in range(5)]

        with ThreadPoolExecutor(4) as pool:
            outcomes["exports"] = sum(len(paths) for paths in pool.map(five_exports, range(4)))

    def guarded(run):
        try:
            run()
        except Exception as error:  # reported to the test, which fails on any
            failed.append(f"{run.__name__}: {type(error).__name__}: {error}"[:300])

    results.put("ready")
    go.wait()
    threads = [threading.Thread(target=guarded, args=(f,)) for f in
               (worst_attention, fine_tunes, upload, export_storm)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    results.put({**outcomes, "failed": failed})


@pytest.fixture(scope="module")
def capped_app(tmp_path_factory):
    if not shutil.which("prlimit"):
        pytest.skip("prlimit (util-linux) is needed to cap the server's memory")
    folder = tmp_path_factory.mktemp("capped")
    temp = folder / "tmp"
    temp.mkdir()
    env = {"TMPDIR": str(temp), "GRADIO_TEMP_DIR": str(temp / "gradio")}
    app = LaunchedApp(folder / "data", folder / "app.log", env=env,
                      prefix=["prlimit", f"--as={CAP}"])
    try:
        app.wait_until_serving()
        wait_for_warm_up(make_client(app.url))  # idle is measured with nothing compiling
        app.temp = temp
        yield app
    finally:
        app.stop()


def test_one_visitor_cannot_take_the_server_down(capped_app, tmp_path):
    app, hostile = capped_app, make_client(capped_app.url)
    for n in range(5):  # rows for the export storm
        hostile.predict(SENTENCES[n % 4], EMBEDDED_PRESET, 0, "right", "", "storm", "",
                        "hostile", api_name="/annotate")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"Line {n} of a small corpus about rivers and towns near "
                                f"the old bridge." for n in range(400)))

    idle, idle_errors = predicting_clients(app.url, PHASE_S)
    assert not idle_errors, idle_errors[:3]

    # The attackers run in a process of their own, as they would on other machines: in
    # this one, their clients' work (building clients, parsing 259k-weight attention replies,
    # streaming the upload) took the GIL from the measured clients (a 0.66 s burst vs
    # 0.24 s with the attackers apart).
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    attacker = context.Process(target=attack, args=(app.url, app.port, str(corpus), go,
                                                    results))
    attacker.start()
    assert results.get(timeout=120) == "ready"  # imports done before anything is timed
    watch = RssWatch(app.process.pid)
    watch.start()
    steady = []  # the attacks start as the measured clients' window opens
    timeline = []  # (sent at, latency, client): where in the phase the slow ones fall
    loaded, loaded_errors = predicting_clients(app.url, PHASE_S, after=steady,
                                               on_start=go.set, timeline=timeline)
    outcomes = results.get(timeout=300)
    attacker.join(timeout=60)
    assert not outcomes.pop("failed"), outcomes
    try:
        hostile.predict("hostile", False, api_name="/finetune_cancel")
    except AppError:
        pass
    watch.done.set()
    watch.join()

    print(f"\nidle: {len(idle)} predictions, p95 {p95(idle) * 1e3:.0f} ms, median "
          f"{statistics.median(idle) * 1e3:.0f} ms\nunder attack: {len(loaded)} predictions, "
          f"p95 {p95(loaded) * 1e3:.0f} ms, median {statistics.median(loaded) * 1e3:.0f} ms"
          f"\np95 ratio {p95(loaded) / p95(idle):.2f}x; from {STEADY_AFTER_S} s on (the largest "
          f"fine-tune training): p95 {p95(steady) * 1e3:.0f} ms, "
          f"{p95(steady) / p95(idle):.2f}x\nslowest under attack (sent at s, ms, client): "
          f"{[(round(t, 2), round(l * 1e3), c) for t, l, c in sorted(timeline, key=lambda x: -x[1])[:12]]}"
          f"\npeak RSS {watch.peak / 1e9:.2f} GB (cap {CAP / 1e9:.0f} GB)\n{outcomes}")
    assert app.process.poll() is None, "the server died"
    assert not loaded_errors, loaded_errors[:3]
    assert watch.peak < CAP
    # The bound, over the whole attack: 1.08-1.10x in three runs, the slowest
    # request 0.24-0.31 s in the attacks' first second. (3.22x once while the clients were
    # released in lockstep, a wave of 20 meeting the attacks' start.) From 12 s on, with
    # the largest fine-tune training in its own process at nice 19: 1.02-1.05x (6.2x when
    # training shared the server's XLA pool).
    assert p95(loaded) <= budget(2) * p95(idle)
    assert p95(steady) <= budget(2) * p95(idle)
    refused, shape = outcomes["attention"]
    assert len(refused) == 3 and all("at most" in m for m in refused)
    assert shape[:2] == [1, 1] and shape[2] > 500
    assert "GB" in outcomes["huge_finetune"], outcomes["huge_finetune"]
    # The largest allowed run was accepted and was working while the others predicted.
    assert outcomes["finetune_status"]["status"] in ("preparing", "evaluating", "training",
                                                     "saving"), outcomes["finetune_status"]
    assert outcomes["upload_status"] in (413, None)  # refused (or cut off) at the route
    assert outcomes["exports"] == 20
    # Nothing left behind: no half-received upload, no export folders in the temp dir.
    time.sleep(1)
    left = {name: size for name, size in leftovers(app.temp).items()
            if size > 1_000_000 or "export" in name}
    assert not left, left
