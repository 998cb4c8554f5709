"""`python -m albert_demo deploy-space` against a loopback stand-in for the Hub's HTTP API.

The real Hub is not reachable here, so tests/harness/fake_hub.py answers the requests
huggingface_hub makes and records them. Xet is switched off (HF_HUB_DISABLE_XET), so
binaries take the classic LFS path (batch + PUT), which the fake implements; with hf_xet
installed a real deploy sends them through Xet storage instead.
"""

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from albert_demo import cli
from albert_demo.spaces.deploy import ROOT, deploy_space, space_files
from tests.harness.fake_hub import HUB_MAX_PLAIN_BYTES, FakeHub
from tests.harness.timing import budget

TOKEN = "hf_loopback_test_token"


@pytest.fixture
def hub(monkeypatch):
    import huggingface_hub.constants as constants
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    with FakeHub() as fake:
        monkeypatch.setattr(constants, "ENDPOINT", fake.url)  # what HF_ENDPOINT sets
        yield fake


def is_binary_or_large(path):
    with open(path, "rb") as f:
        return b"\0" in f.read(512) or path.stat().st_size > HUB_MAX_PLAIN_BYTES


def committed(lines):
    """{path: ("file", bytes) | ("lfsFile", sha256) | ("deletedFile", None)}"""
    out = {}
    for line in lines:
        value = line["value"]
        if line["key"] == "file":
            out[value["path"]] = ("file", base64.b64decode(value["content"]))
        elif line["key"] == "lfsFile":
            out[value["path"]] = ("lfsFile", value["oid"])
        elif line["key"] == "deletedFile":
            out[value["path"]] = ("deletedFile", None)
    return out


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A still copy of this repository's tracked files (others may be editing the tree)."""
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout")
    copy = tmp_path_factory.mktemp("checkout")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")
    for path in filter(None, tracked):
        if (ROOT / path).is_file():
            (copy / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, copy / path)
    (copy / "albert_demo" / "__pycache__").mkdir(exist_ok=True)
    (copy / "albert_demo" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"\0")
    (copy / ".venv" / "lib").mkdir(parents=True)
    (copy / ".venv" / "lib" / "site.py").write_text("")
    (copy / ".albert_demo_data").mkdir()
    (copy / ".albert_demo_data" / "annotations.sqlite").write_bytes(b"\0")
    return copy


def test_deploy_space_uploads_this_checkout_binaries_through_lfs(hub, checkout, capsys,
                                                                monkeypatch):
    monkeypatch.setattr("albert_demo.spaces.deploy.ROOT", checkout)
    code = cli.main(["deploy-space", "someone/albert-demo", "--private", "--token", TOKEN])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "Deployed" in printed and "/spaces/someone/albert-demo" in printed

    # 1. the Space is created as a private Gradio Space, with the token
    (create,) = hub.calls("POST", "/api/repos/create")
    assert json.loads(create[3]) == {"name": "albert-demo", "organization": "someone",
                                     "type": "space", "sdk": "gradio",
                                     "visibility": "private"}
    assert create[2]["authorization"] == f"Bearer {TOKEN}"

    # The Space serves the official base preset by default.
    assert hub.variables["someone/albert-demo"] == {
        "ALBERT_DEMO_DEFAULT_PRESET": "albert_base_en_uncased"}

    # 2. exactly the Space's files, in one commit: no tests, benchmarks, scripts, data, venv
    expected = {path for path, _ in space_files(checkout)}
    (commit,) = hub.commits
    sent = committed(commit)
    assert set(sent) == expected
    for path in sent:
        assert path.split("/")[0] in ("app.py", "requirements.txt", "README.md",
                                      ".gitattributes", "albert_demo", "assets", "docs")
        assert "__pycache__" not in path and not path.endswith(".pyc")
    assert {"app.py", "README.md", "requirements.txt", ".gitattributes",
            "albert_demo/__init__.py", "assets/albert_tiny_en_uncased/model.weights.h5",
            "assets/albert_tiny_en_uncased/assets/tokenizer/vocabulary.spm"} <= set(sent)

    # 3. binaries and >10 MiB files went through LFS (batch + PUT, sha256 checked by the
    #    fake), text files inline; every byte arrived as it is on disk
    lfs = {path for path, (kind, _) in sent.items() if kind == "lfsFile"}
    assert lfs == {path for path in expected if is_binary_or_large(checkout / path)}
    assert "assets/albert_tiny_en_uncased/model.weights.h5" in lfs
    for path, (kind, content) in sent.items():
        data = (checkout / path).read_bytes()
        if kind == "lfsFile":
            assert hub.lfs_store[content] == data and content == hashlib.sha256(data).hexdigest()
        else:
            assert content == data, path
    puts = hub.calls("PUT", "/lfs-upload/")
    assert len(puts) == len(lfs)
    (batch,) = hub.calls("POST", "/info/lfs/objects/batch")
    assert batch[1] == "/spaces/someone/albert-demo.git/info/lfs/objects/batch"
    assert hub.calls("POST", "/api/spaces/someone/albert-demo/preupload/main")

    # 4. the LFS files are exactly those .gitattributes stores with LFS (so a git push of
    #    the same tree would be accepted too)
    out = subprocess.run(["git", "check-attr", "filter", "--", *sorted(expected)], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    by_attr = {line.split(": filter: ")[0] for line in out.splitlines()
               if line.endswith(": lfs")}
    assert lfs <= by_attr

    # 5. the README that configures the Space went through front-matter validation
    validations = [json.loads(r[3]) for r in hub.calls("POST", "/api/validate-yaml")]
    assert validations  # upload_folder and create_commit each check it before uploading
    for readme in validations:
        assert readme["repoType"] == "space"
        assert "sdk: gradio" in readme["content"] and "app_file: app.py" in readme["content"]
    # every API call carries the token; not the PUTs to storage URLs (pre-signed on the real
    # Hub) nor huggingface_hub's once-a-day user-agent registry fetch (a 404 here, ignored)
    for method, path, headers, _ in hub.requests:
        if not path.startswith("/lfs-upload/") and path != "/api/agent-harnesses":
            assert headers.get("authorization") == f"Bearer {TOKEN}", (method, path)


def small_checkout(root):
    (root / "albert_demo").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "assets").mkdir()
    (root / "app.py").write_text("print('app')\n")
    (root / "README.md").write_text("---\nsdk: gradio\napp_file: app.py\n---\n# demo\n")
    (root / "albert_demo" / "__init__.py").write_text("")
    (root / "albert_demo" / "old.py").write_text("x = 1\n")
    (root / "tests" / "test_x.py").write_text("")
    (root / "assets" / "w.h5").write_bytes(b"\0\1\2" * 1000)


def test_redeploy_keeps_visibility_and_removes_files_gone_from_the_checkout(hub, tmp_path):
    small_checkout(tmp_path)
    deploy_space("someone/demo", root=tmp_path, token=TOKEN)
    assert set(hub.repos["space/someone/demo"]) == {"app.py", "README.md",
                                                    "albert_demo/__init__.py",
                                                    "albert_demo/old.py", "assets/w.h5"}
    (tmp_path / "albert_demo" / "old.py").unlink()
    (tmp_path / "app.py").write_text("print('app v2')\n")
    deploy_space("someone/demo", root=tmp_path, token=TOKEN)  # the Space exists: 409, fine
    creates = [json.loads(r[3]) for r in hub.calls("POST", "/api/repos/create")]
    assert len(creates) == 2 and all("visibility" not in c for c in creates)
    second = committed(hub.commits[1])
    assert second["albert_demo/old.py"] == ("deletedFile", None)
    assert hub.repos["space/someone/demo"]["app.py"] == b"print('app v2')\n"
    assert "albert_demo/old.py" not in hub.repos["space/someone/demo"]
    assert len(hub.calls("PUT", "/lfs-upload/")) == 1  # the binary was already stored


def test_dry_run_lists_files_and_size_and_sends_nothing(hub, checkout, capsys, monkeypatch):
    monkeypatch.setattr("albert_demo.spaces.deploy.ROOT", checkout)
    assert cli.main(["deploy-space", "someone/albert-demo", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "assets/albert_tiny_en_uncased/model.weights.h5" in out and "  app.py" in out
    assert "tests/" not in out and "benchmarks/" not in out and "scripts/" not in out
    files = space_files(checkout)
    assert f"{len(files)} files, {sum(s for _, s in files) / 1e6:.1f} MB" in out
    assert hub.requests == []


def test_a_bad_space_id_is_refused_before_any_request(hub, capsys):
    assert cli.main(["deploy-space", "no-owner", "--token", TOKEN]) == 2
    assert "OWNER/NAME" in capsys.readouterr().err
    assert hub.requests == []


def test_space_files_leave_out_everything_else(tmp_path):
    small_checkout(tmp_path)
    (tmp_path / "albert_demo" / "__pycache__").mkdir()
    (tmp_path / "albert_demo" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    for folder in ("benchmarks", "scripts", "data", ".venv/lib", ".albert_demo_data"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "f.py").write_text("")
    assert [p for p, _ in space_files(tmp_path)] == [
        "README.md", "albert_demo/__init__.py", "albert_demo/old.py", "app.py", "assets/w.h5"]
    assert Path(ROOT / "app.py").is_file()


def test_no_route_to_the_hub_fails_fast_and_uploads_nothing(monkeypatch, capsys):
    import socket
    import time

    import huggingface_hub.constants as constants
    from albert_demo.presets import reachability

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    for name in reachability.PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    start = time.perf_counter()
    assert cli.main(["deploy-space", "someone/albert-demo", "--dry-run"]) == 0  # no network
    assert cli.main(["deploy-space", "someone/albert-demo", "--token", TOKEN]) == 2
    assert time.perf_counter() - start < budget(3)
    err = capsys.readouterr().err
    assert "not reachable" in err and "connection refused" in err and "nothing was uploaded" in err
