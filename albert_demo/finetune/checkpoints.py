"""Atomic checkpoint folders: keras-hub presets `checkpoints/step-000050/`.

Each is written to a hidden temporary folder and renamed into place (`save_to_preset`), and
an older one is renamed hidden before it is deleted, so every visible `step-*` folder is
complete even if the process is killed at any moment. A run checks for the disk space
its checkpoints and result need before it starts.
"""

import shutil
import time
from pathlib import Path

from albert_demo.errors import UserError


class StorageError(UserError, ValueError):
    """Too little disk for a run's checkpoints and result; the message gives the sizes."""


def check_free_space(folder, parameters):
    """Refuse before training rather than fail at the first save: a run writes up to
    two checkpoints, the preset and its zip, each about the size of the weights."""
    need = 4 * 4 * parameters + 16 * 2**20
    folder = Path(folder)
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < need:
        raise StorageError(f"The server's disk is full for this run: fine-tuning this "
                           f"model needs about {need / 2**20:,.0f} MB free for checkpoints "
                           f"and the result, and {free / 2**20:,.0f} MB are free.")


def save_checkpoint(masked_lm, root, step):
    """Write `root/step-NNNNNN/` atomically, then retire older checkpoints."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"step-{step:06d}"
    masked_lm.save_to_preset(target)
    for old in root.glob("step-*"):
        if old.name < target.name:
            _remove(old)
    return target


def _remove(folder):
    """Hide first (one atomic rename), then delete: never a visible half-deleted folder."""
    hidden = folder.with_name(f".trash-{folder.name}")
    try:
        folder.rename(hidden)
    except OSError:
        return
    shutil.rmtree(hidden, ignore_errors=True)


def checkpoint_step(folder):
    """The training step a checkpoint folder was saved at: step-000050 -> 50."""
    return int(Path(folder).name.split("-")[-1])


def latest_checkpoint(root):
    """The newest complete checkpoint folder under `root`, or None."""
    found = sorted(p for p in Path(root).glob("step-*") if (p / "config.json").is_file())
    return found[-1] if found else None


def remove_partial(root, older_than=0.0):
    """Delete hidden temporary folders a killed process may have left under `root`
    (only those untouched for `older_than` seconds, so a live writer keeps its own)."""
    root = Path(root)
    if not root.is_dir():
        return []
    cutoff = time.time() - older_than
    removed = [p for p in root.iterdir()
               if p.name.startswith(".") and p.is_dir() and p.stat().st_mtime <= cutoff]
    for p in removed:
        shutil.rmtree(p, ignore_errors=True)
    return removed
