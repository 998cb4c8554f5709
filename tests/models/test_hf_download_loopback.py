"""The real `hf://` download path (huggingface_hub's `hf_hub_download`) against a fake
Hub served on 127.0.0.1: HEAD/GET `/{repo}/resolve/{revision}/{filename}` with the headers
huggingface_hub reads (`X-Repo-Commit`, quoted `ETag`, `Content-Length`; 404s carry
`X-Error-Code: EntryNotFound` / `RepoNotFound`).
"""

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import numpy as np
import pytest

from albert_demo import AlbertMaskedLM
from albert_demo.presets.resolve import PresetError
from model_helpers import make_hf_checkpoint, random_batch

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub(BaseHTTPRequestHandler):
    repos = {}  # repo_id -> {filename: bytes}
    requests = []  # (method, repo, filename, Range header or None)
    # filename -> "once": the first full GET stops halfway (connection dropped), or
    # "dead": every full GET stops halfway and every resume is dropped unanswered.
    cut = {}
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _route(self):
        path = unquote(self.path.split("?")[0]).lstrip("/")
        parts = path.split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return None, None
        return "/".join(parts[:2]), "/".join(parts[4:])

    def _answer(self, with_body):
        repo, filename = self._route()
        wanted_range = self.headers.get("Range")
        self.requests.append((self.command, repo, filename, wanted_range))
        files = self.repos.get(repo)
        if files is None or filename not in files:
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound" if files is None else
                             "EntryNotFound")
            self.send_header("X-Error-Message", "not found")
            if files is not None:
                self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = files[filename]
        cut = self.cut.get(filename) if with_body else None
        if cut == "dead" and wanted_range:  # the server went away mid-download
            self.close_connection = True
            return
        start = int(wanted_range.split("=")[1].split("-")[0]) if wanted_range else 0
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", '"' + hashlib.sha256(body).hexdigest() + '"')
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if not with_body:
            return
        if cut and not start:  # promise the whole file, send half, drop the connection
            if cut == "once":
                del self.cut[filename]
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])

    def do_HEAD(self):
        self._answer(False)

    def do_GET(self):
        self._answer(True)


@pytest.fixture(scope="module")
def hub_checkpoint(tmp_path_factory, spm_path, vocab_size):
    folder = tmp_path_factory.mktemp("hub_src")
    make_hf_checkpoint(folder, spm_path, vocab_size, seed=5, num_hidden_groups=2,
                       inner_group_num=2)
    return folder


@pytest.fixture
def fake_hub(hub_checkpoint, tmp_path, monkeypatch):
    import huggingface_hub.constants as constants
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
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
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
    server.shutdown()
    server.server_close()


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
