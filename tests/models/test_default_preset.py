"""ALBERT_DEMO_DEFAULT_PRESET: the official base preset downloaded in the background from a
loopback Hub (tests/harness/hub_files.py), the embedded preset served until it is ready,
and kept when the Hub is unreachable or drops the download halfway."""

import socket
import threading

import pytest

from albert_demo.engine import ModelCache
from albert_demo.presets import reachability
from albert_demo.presets.default_preset import OFFICIAL_DEFAULT, DefaultPreset
from albert_demo.presets.registry import EMBEDDED_PRESET, OFFICIAL_PRESETS
from albert_demo.services import PredictionService
from albert_demo.settings import Settings
from test_hf_download_loopback import cached_weights, fake_hub, hub_checkpoint  # noqa: F401

BASE_REPO = OFFICIAL_PRESETS[OFFICIAL_DEFAULT].hf_repo


@pytest.fixture
def base_on_hub(fake_hub):  # noqa: F811 (the imported fixture)
    """The loopback Hub serves a tiny HF-layout checkpoint as the official base preset."""
    fake_hub.repos[BASE_REPO] = fake_hub.repos["someone/tiny-albert"]
    reachability.forget()
    yield fake_hub
    fake_hub.gate = None
    reachability.forget()


def started(env=None):
    default = DefaultPreset.from_settings(Settings.from_env(env or {}))
    predictions = PredictionService(ModelCache(), default_preset=default)
    return default, predictions


def test_reachable_hub_base_downloads_in_background_embedded_until_ready(base_on_hub):
    default, predictions = started()
    assert default.wanted == OFFICIAL_DEFAULT
    predictions.predict("The sky is [MASK].", EMBEDDED_PRESET)  # loaded, compiled: quick
    # Every file held back (for less than huggingface_hub's 10 s read timeout).
    base_on_hub.gate = threading.Event()
    thread = default.start(predictions)
    status = default.status()
    assert status.state == "downloading" and status.serving == EMBEDDED_PRESET
    assert predictions.default_preset == EMBEDDED_PRESET
    # A visitor meanwhile is answered by the embedded preset.
    assert predictions.model(None).name == EMBEDDED_PRESET
    base_on_hub.gate.set()
    thread.join(120)
    assert default.status().state == "ready", default.status()
    assert predictions.default_preset == OFFICIAL_DEFAULT
    assert predictions.model(None).name == OFFICIAL_DEFAULT
    assert predictions.predict("The sky is [MASK].", None)["masks"]
    got = {f for method, repo, f, _ in base_on_hub.requests if method == "GET"
           and repo == BASE_REPO}
    assert {"config.json", "model.safetensors", "spiece.model"} <= got


def test_hub_dropping_the_download_keeps_the_embedded_preset(base_on_hub, tmp_path):
    base_on_hub.cut = {"model.safetensors": "dead"}
    default, predictions = started()
    default.start(predictions).join(120)
    status = default.status()
    assert status.state == "failed" and status.serving == EMBEDDED_PRESET
    assert OFFICIAL_DEFAULT in status.error and "Could not download" in status.error
    assert not default.offers_official  # no button to a download that just failed
    assert predictions.model(None).name == EMBEDDED_PRESET
    # No half-written entry a later start could take for the model.
    assert reachability.cached_download(BASE_REPO) is None
    assert cached_weights(tmp_path) == []


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_hub_means_embedded_without_a_download(monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    for name in reachability.PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    reachability.forget()
    default, predictions = started()
    assert default.wanted == EMBEDDED_PRESET and default.start(predictions) is None
    assert default.status().state == "ready" and not default.offers_official
    reachability.forget()


def test_setting_names_the_default_without_a_probe(monkeypatch):
    monkeypatch.setattr(reachability, "hub_unreachable_reason",
                        lambda *a: pytest.fail("probed the Hub for a named default"))
    default = DefaultPreset.from_settings(
        Settings.from_env({"ALBERT_DEMO_DEFAULT_PRESET": " albert_large_en_uncased "}))
    assert default.wanted == "albert_large_en_uncased"
    assert default.current() == EMBEDDED_PRESET and default.offers_official
