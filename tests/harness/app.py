"""A real `python app.py` in its own process, for client, browser and fault tests."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_warm_up(client, timeout=300):
    """Wait until the app has done every warm-up compile (the salience programs are the
    last), so none competes with what is measured or tested next; -> its /engine_stats."""
    deadline = time.monotonic() + timeout
    while not (stats := client.predict(api_name="/engine_stats"))["salience_warm"]:
        assert time.monotonic() < deadline, f"warm-up did not finish in {timeout} s"
        time.sleep(0.5)
    return stats


class LaunchedApp:
    """`python app.py --port P` in its own process; `stop()` ends exactly that process."""

    def __init__(self, data_dir, log_path, env=None, prefix=(), args=()):
        """env: extra variables; prefix: a wrapper command (e.g. prlimit); args: app flags."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "ALBERT_DEMO_DATA_DIR": str(data_dir), "JAX_PLATFORMS": "cpu",
               "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", **(env or {})}
        env.pop("GRADIO_SERVER_PORT", None)
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        self.log = open(log_path, "w")
        self.started = time.perf_counter()
        self.process = subprocess.Popen([*prefix, sys.executable, "app.py", "--port",
                                         str(self.port), *args],
                                        cwd=ROOT, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def wait_until_serving(self, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.process.returncode}; "
                                   f"see {self.log.name}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"app.py did not serve {self.url} within {timeout} s")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
