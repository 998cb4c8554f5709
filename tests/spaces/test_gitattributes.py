"""Every tracked binary or large file is stored with LFS, so a push to a Space is accepted.

The Hub refuses a push holding a binary file that is not an LFS (or Xet) pointer, or any
file over 10 MiB. A new binary added without a `.gitattributes` rule fails here, not at
deploy time.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HUB_MAX_PLAIN_BYTES = 10 * 1024 * 1024
SNIFF_BYTES = 8192  # git's own binary test looks for a NUL in the first 8 kB

pytestmark = pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                                reason="needs git and a git checkout")


def git(*args, cwd=ROOT):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def needs_lfs(path):
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    return b"\0" in head or path.stat().st_size > HUB_MAX_PLAIN_BYTES


def lfs_filter(paths, cwd=ROOT):
    """{path: value of the `filter` attribute} for every path, in one git call."""
    out = subprocess.run(["git", "check-attr", "-z", "filter", "--stdin"], cwd=cwd, check=True,
                         capture_output=True, input=("\0".join(paths) + "\0").encode()).stdout
    fields = out.split(b"\0")[:-1]
    return {fields[i].decode(): fields[i + 2].decode() for i in range(0, len(fields), 3)}


def test_every_tracked_binary_or_large_file_is_stored_with_lfs():
    tracked = [p for p in git("ls-files", "-z").split("\0") if p and (ROOT / p).is_file()]
    binaries = [p for p in tracked if needs_lfs(ROOT / p)]
    # the embedded model's weights (50 MB), its SentencePiece model and unigram counts
    assert "assets/albert_tiny_en_uncased/model.weights.h5" in binaries
    filters = lfs_filter(binaries)
    missing = sorted(p for p in binaries if filters[p] != "lfs")
    assert not missing, ("binary or >10 MiB files without an LFS rule in .gitattributes (a "
                         f"push to a Space would be refused): {missing}")


def test_text_files_stay_plain_git():
    filters = lfs_filter(["app.py", "README.md", "requirements.txt",
                          "assets/albert_tiny_en_uncased/config.json"])
    assert set(filters.values()) == {"unspecified"}


def test_a_clone_without_git_lfs_is_clean_and_byte_identical(tmp_path):
    """The rules must not make the repository need git-lfs: without its filter configured,
    git stores and checks out the bytes as they are (a git-lfs, if installed, passes
    content that is not a pointer through unchanged as well)."""
    source, clone = tmp_path / "source", tmp_path / "clone"
    source.mkdir()
    shutil.copy(ROOT / ".gitattributes", source / ".gitattributes")
    blob = bytes(range(256)) * 64  # NUL bytes: binary
    (source / "weights.h5").write_bytes(blob)
    (source / "app.py").write_text("print('hi')\n")
    env_args = ["-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    git("init", "-q", cwd=source)
    git("add", ".", cwd=source)
    git(*env_args, "commit", "-q", "-m", "init", cwd=source)
    git("clone", "-q", str(source), str(clone), cwd=tmp_path)
    assert (clone / "weights.h5").read_bytes() == blob
    assert git("status", "--porcelain", cwd=clone) == ""
    assert git("check-attr", "filter", "--", "weights.h5", cwd=clone).strip().endswith("lfs")
