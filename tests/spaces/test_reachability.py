"""No route to the Hub: an official preset fails in under 3 s with a clear message, not after
~23 s of retries; a complete earlier download is still served from the cache.

Every endpoint here is a loopback port this test owns: one nothing listens on, one that
accepts connections and never answers, one that answers.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from albert_demo.presets import reachability
from albert_demo.presets.registry import ASSETS_DIR, EMBEDDED_PRESET
from albert_demo.presets.resolve import PresetError, resolve_preset
from tests.harness.timing import budget

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "Hugging Face is not reachable from this server"


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: connections are refused


@pytest.fixture
def silent_server():
    """Accepts connections and never sends a byte (a black-holing proxy)."""
    server = socket.create_server(("127.0.0.1", 0))
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """Point huggingface_hub at an endpoint and an empty cache; forget earlier probes."""
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    for name in reachability.PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    reachability.forget()

    def point_at(endpoint):
        monkeypatch.setattr(constants, "ENDPOINT", endpoint)
        return endpoint
    yield point_at
    reachability.forget()


def timed_failure(handle):
    start = time.perf_counter()
    with pytest.raises(PresetError) as caught:
        resolve_preset(handle)
    return time.perf_counter() - start, str(caught.value)


def test_refused_connection_fails_fast_with_a_clear_message(hub):
    hub(f"http://127.0.0.1:{closed_port()}")
    seconds, message = timed_failure("albert_base_en_uncased")
    assert seconds < budget(3)
    assert UNREACHABLE in message and "connection refused" in message
    assert repr(EMBEDDED_PRESET) in message


def test_a_server_that_never_answers_fails_within_3_seconds(hub, silent_server):
    hub(silent_server)
    seconds, message = timed_failure("hf://albert/albert-base-v2")
    assert seconds < budget(3)
    assert UNREACHABLE in message and "no answer" in message


def test_hf_hub_offline_fails_at_once(hub, monkeypatch):
    import huggingface_hub.constants as constants
    hub(f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    seconds, message = timed_failure("albert_large_en_uncased")
    assert seconds < budget(0.5)
    assert "HF_HUB_OFFLINE=1" in message


def test_the_verdict_is_remembered_for_a_minute(hub, monkeypatch):
    hub(f"http://127.0.0.1:{closed_port()}")
    probes = []
    real = reachability._probe
    monkeypatch.setattr(reachability, "_probe", lambda e: probes.append(e) or real(e))
    for _ in range(3):
        timed_failure("albert_base_en_uncased")
    assert len(probes) == 1
    monkeypatch.setattr(reachability, "REMEMBER_SECONDS", 0.0)
    timed_failure("albert_base_en_uncased")
    assert len(probes) == 2


def test_an_answering_endpoint_is_reachable(hub):
    server = socket.create_server(("127.0.0.1", 0))

    def answer():
        conn, _ = server.accept()
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    try:
        assert reachability.hub_unreachable_reason(
            f"http://127.0.0.1:{server.getsockname()[1]}") is None
    finally:
        server.close()


def fake_cached_download(cache, repo, files):
    """What huggingface_hub leaves after a download: refs/main -> snapshots/<commit>/..."""
    commit = "0" * 40
    folder = cache / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    snapshot = folder / "snapshots" / commit
    for name in files:
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ASSETS_DIR / EMBEDDED_PRESET / name, snapshot / name)
    return snapshot


def test_offline_a_complete_earlier_download_is_served_from_the_cache(hub, tmp_path):
    import huggingface_hub.constants as constants
    hub(f"http://127.0.0.1:{closed_port()}")
    files = ["config.json", "model.weights.h5", "assets/tokenizer/vocabulary.spm"]
    snapshot = fake_cached_download(Path(constants.HF_HUB_CACHE), "someone/albert", files)
    folder, _ = resolve_preset("hf://someone/albert")
    assert Path(folder) == snapshot


def test_offline_a_partial_download_is_not_served(hub):
    import huggingface_hub.constants as constants
    hub(f"http://127.0.0.1:{closed_port()}")
    fake_cached_download(Path(constants.HF_HUB_CACHE), "someone/albert", ["config.json"])
    assert reachability.cached_download("someone/albert") is None
    _, message = timed_failure("hf://someone/albert")
    assert UNREACHABLE in message


def test_from_preset_with_hf_endpoint_set_fails_in_under_3_seconds(tmp_path):
    """As a user sets it: HF_ENDPOINT in the environment, the public from_preset."""
    script = (
        "import json, time\n"
        "from albert_demo import AlbertMaskedLM\n"
        "start = time.perf_counter()\n"
        "try:\n"
        "    AlbertMaskedLM.from_preset('albert_base_en_uncased')\n"
        "    error = None\n"
        "except Exception as e:\n"
        "    error = f'{type(e).__name__}: {e}'\n"
        "print(json.dumps({'seconds': time.perf_counter() - start, 'error': error}))\n")
    env = {**os.environ, "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
           "HF_HOME": str(tmp_path / "hf-home"), "KERAS_BACKEND": "jax",
           "JAX_PLATFORMS": "cpu"}
    for name in reachability.PROXY_VARIABLES + ("HF_HUB_OFFLINE",):
        env.pop(name, None)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["error"].startswith("PresetError") and UNREACHABLE in result["error"]
    assert result["seconds"] < budget(3), result


def test_the_dropdown_says_needs_network_until_a_download_has_completed(hub):
    import huggingface_hub.constants as constants
    from albert_demo.ui.preset_choices import preset_choices

    def label(name):
        return dict((value, text) for text, value in preset_choices())[name]

    assert "needs network" in label("albert_base_en_uncased")
    assert "embedded" in label(EMBEDDED_PRESET)
    cache = Path(constants.HF_HUB_CACHE)
    snapshot = fake_cached_download(cache, "albert/albert-base-v2", ["config.json"])
    assert "needs network" in label("albert_base_en_uncased")  # config alone: not usable
    (snapshot / "config.json").write_text(json.dumps({"model_type": "albert"}))
    (snapshot / "model.safetensors").write_bytes(b"weights")
    (snapshot / "spiece.model").write_bytes(b"spm")
    assert label("albert_base_en_uncased").endswith(", cached)")
