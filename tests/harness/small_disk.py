"""A real, tiny filesystem that can be filled: a tmpfs mount (needs root, as in CI's
container); tests skip with the reason where mounting is not allowed."""

import contextlib
import errno
import os
import subprocess

import pytest


class SmallDisk:
    def __init__(self, path):
        self.path = path
        self._filler = path / ".filler"

    def fill(self):
        """Write until the filesystem refuses: ENOSPC for everyone after this."""
        with open(self._filler, "ab") as f:
            block = b"\0" * 65536
            try:
                while True:
                    f.write(block)
                    f.flush()
            except OSError as error:
                assert error.errno == errno.ENOSPC, error
        with contextlib.suppress(OSError):  # the last partial pages too
            with open(self._filler, "ab") as f:
                while True:
                    f.write(b"\0")
                    f.flush()

    def free(self):
        self._filler.unlink(missing_ok=True)


@contextlib.contextmanager
def small_disk(path, megabytes):
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs",
                              str(path)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill ({mounted.stderr.strip() or 'not root'})")
    try:
        os.chmod(path, 0o777)
        yield SmallDisk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
