"""The real `hf://` download path (huggingface_hub's `hf_hub_download`) against a fake
Hub served on 127.0.0.1 (tests/harness/hub_files.py).
"""

import hashlib

import numpy as np
import pytest

from albert_demo import AlbertMaskedLM
from albert_demo.presets.resolve import PresetError
from model_helpers import make_hf_checkpoint, random_batch
from tests.harness.hub_files import ResolveHub as FakeHub
from tests.harness.hub_files import serving


@pytest.fixture(scope="module")
def hub_checkpoint(tmp_path_factory, spm_path, vocab_size):
    folder = tmp_path_factory.mktemp("hub_src")
    make_hf_checkpoint(folder, spm_path, vocab_size, seed=5, num_hidden_groups=2,
                       inner_group_num=2)
    return folder


@pytest.fixture
def fake_hub(hub_checkpoint, tmp_path, monkeypatch):
    FakeHub.repos = {
        "someone/tiny-albert": {
            name: (hub_checkpoint / name).read_bytes()
            for name in ("config.json", "model.safetensors", "spiece.model")},
        "someone/pickled-albert": {
            "config.json": (hub_checkpoint / "config.json").read_bytes(),
            "pytorch_model.bin": b"\x80\x04not really a pickle",
            "spiece.model": (hub_checkpoint / "spiece.model").read_bytes()},
    }
    FakeHub.requests = []
    FakeHub.cut = {}
    FakeHub.gate = None
    with serving(FakeHub) as endpoint:
        yield from _pointed_at(endpoint, tmp_path, monkeypatch)


def _pointed_at(endpoint, tmp_path, monkeypatch):
    import huggingface_hub.constants as constants
    hf_home = tmp_path / "hf_home"
    for key, value in {"HF_ENDPOINT": endpoint, "HF_HOME": str(hf_home),
                       "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):  # talk to 127.0.0.1 directly
        monkeypatch.delenv(proxy, raising=False)
        monkeypatch.delenv(proxy.lower(), raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    # huggingface_hub reads these at import time: patch the live module too.
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        endpoint + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HOME", str(hf_home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # Real weights span many 10 MB chunks; small chunks give these small files the same
    # shape, so a cut mid-file leaves bytes on disk and the retry resumes with a Range.
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 16 * 1024)
    yield FakeHub


def test_hf_download_matches_local_folder(fake_hub, hub_checkpoint, tmp_path, vocab_size):
    downloaded = AlbertMaskedLM.from_preset("hf://someone/tiny-albert")
    local = AlbertMaskedLM.from_preset(str(hub_checkpoint))
    assert downloaded.has_pretrained_head
    batch = random_batch(vocab_size, batch=2, length=16, num_masks=3, seed=1)
    np.testing.assert_array_equal(np.asarray(downloaded.predict_on_batch(batch)),
                                  np.asarray(local.predict_on_batch(batch)))
    # Files really came over HTTP, into the fresh cache.
    got = {f for method, repo, f, _ in fake_hub.requests if method == "GET"}
    assert {"config.json", "model.safetensors", "spiece.model"} <= got
    cached = list((tmp_path / "hf_home" / "hub").rglob("model.safetensors"))
    assert cached, "expected the download in the fresh HF_HOME cache"
    assert downloaded.preset_label == "hf://someone/tiny-albert"
    # The tokenizer came along too.
    assert downloaded.preprocessor.tokenizer("The Sky is [MASK].").tolist() == (
        local.preprocessor.tokenizer("The Sky is [MASK].").tolist())


def test_pickle_only_repo_is_refused(fake_hub):
    with pytest.raises(PresetError) as info:
        AlbertMaskedLM.from_preset("hf://someone/pickled-albert")
    message = str(info.value)
    assert "hf://someone/pickled-albert" in message
    assert "pickle" in message.lower() and "safetensors" in message
    # The pickle itself was never fetched.
    assert not any(f == "pytorch_model.bin" for _, _, f, _ in fake_hub.requests)


def test_missing_repo_is_a_clear_preset_error(fake_hub):
    with pytest.raises(PresetError) as info:
        AlbertMaskedLM.from_preset("hf://nobody/no-such-repo")
    assert "hf://nobody/no-such-repo" in str(info.value)


def cached_weights(tmp_path):
    return list((tmp_path / "hf_home" / "hub").rglob("snapshots/*/model.safetensors"))


def test_download_cut_halfway_resumes_to_identical_weights(fake_hub, hub_checkpoint, tmp_path,
                                                          vocab_size):
    fake_hub.cut = {"model.safetensors": "once"}
    downloaded = AlbertMaskedLM.from_preset("hf://someone/tiny-albert")
    resumed = [r for m, _, f, r in fake_hub.requests if m == "GET" and f == "model.safetensors"]
    assert resumed[0] is None and resumed[1].startswith("bytes="), resumed  # a real resume
    [weights] = cached_weights(tmp_path)
    assert weights.read_bytes() == (hub_checkpoint / "model.safetensors").read_bytes()
    local = AlbertMaskedLM.from_preset(str(hub_checkpoint))
    batch = random_batch(vocab_size, batch=1, length=16, num_masks=2, seed=3)
    np.testing.assert_array_equal(np.asarray(downloaded.predict_on_batch(batch)),
                                  np.asarray(local.predict_on_batch(batch)))


def test_download_failing_halfway_leaves_no_cache_entry(fake_hub, hub_checkpoint, tmp_path):
    fake_hub.cut = {"model.safetensors": "dead"}
    with pytest.raises(PresetError) as info:
        AlbertMaskedLM.from_preset("hf://someone/tiny-albert")
    assert "hf://someone/tiny-albert" in str(info.value)
    # Nothing a later load could mistake for the file: no snapshot link, no blob under the
    # weights' hash; at most huggingface_hub's own `.incomplete` part file.
    assert cached_weights(tmp_path) == []
    body = (hub_checkpoint / "model.safetensors").read_bytes()
    blobs = list((tmp_path / "hf_home" / "hub").rglob("blobs/*"))
    assert hashlib.sha256(body).hexdigest() not in {p.name for p in blobs}, blobs
    assert all(p.stat().st_size < len(body) for p in blobs if p.name.endswith(".incomplete"))
    assert any(m == "GET" and f == "model.safetensors" for m, _, f, _ in fake_hub.requests)
    # Once the Hub is back, the same call completes and the weights are whole.
    fake_hub.cut = {}
    AlbertMaskedLM.from_preset("hf://someone/tiny-albert")
    [weights] = cached_weights(tmp_path)
    assert weights.read_bytes() == (hub_checkpoint / "model.safetensors").read_bytes()


def test_oversized_repo_refused_before_download(fake_hub, hub_checkpoint, monkeypatch):
    size = len((hub_checkpoint / "model.safetensors").read_bytes())
    monkeypatch.setenv("ALBERT_DEMO_MAX_DOWNLOAD_BYTES", str(size // 2))
    with pytest.raises(PresetError) as info:
        AlbertMaskedLM.from_preset("hf://someone/tiny-albert")
    message = str(info.value)
    assert "model.safetensors" in message and "ALBERT_DEMO_MAX_DOWNLOAD_BYTES" in message
    assert not any(m == "GET" and f == "model.safetensors"
                   for m, _, f, _ in fake_hub.requests)
