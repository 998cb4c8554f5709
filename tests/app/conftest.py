"""Fixtures for the app tests: one loaded embedded preset for the handler tests, and one
launched `python app.py` shared by the client and browser tests."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def model_cache():
    from albert_demo.engine import ModelCache
    return ModelCache()


@pytest.fixture()
def store(tmp_path):
    from albert_demo.annotations import AnnotationStore
    with AnnotationStore.sqlite(tmp_path / "annotations.sqlite3") as store:
        yield store


@pytest.fixture()
def services(model_cache, store):
    from tests.harness.services import build_services
    return build_services(model_cache, store)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LaunchedApp:
    """`python app.py --port P` in its own process; `stop()` ends exactly that process."""

    def __init__(self, data_dir, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "ALBERT_DEMO_DATA_DIR": str(data_dir), "JAX_PLATFORMS": "cpu",
               "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
        env.pop("GRADIO_SERVER_PORT", None)
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        self.log = open(log_path, "w")
        self.started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, "app.py", "--port", str(self.port)],
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


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """One launched app for all client and browser tests; yields it once warm."""
    folder = tmp_path_factory.mktemp("app")
    app = LaunchedApp(folder / "data", folder / "app.log")
    try:
        app.wait_until_serving()
        from gradio_client import Client
        client = Client(app.url, verbose=False)
        app.first_prediction = client.predict("The sky is [MASK].", api_name="/predict")
        app.cold_start_s = time.perf_counter() - app.started
        deadline = time.monotonic() + 300
        while not client.predict(api_name="/engine_stats")["warm"]:
            assert time.monotonic() < deadline, "warm-up did not finish in 300 s"
            time.sleep(0.5)
        yield app
    finally:
        app.stop()
