"""A run's folder keeps `run.json` (settings, step count, the base model's scores, status)
and `texts.json` (its passages) beside its checkpoints, so a run a restart interrupted can
be found and continued. Files are written whole or not at all.

Example:
```python
write_json(run_dir / RUN_FILE, {"status": "training", "settings": {...}, ...})
read_run(run_dir)["status"]      # "training"
mark_run(run_dir, "done")
```
"""

import json
import logging
import os
from pathlib import Path

log = logging.getLogger("albert_demo.finetune")

RUN_FILE, TEXTS_FILE = "run.json", "texts.json"


def write_json(path, obj):
    """Write-then-rename: a reader (or a restart) sees the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_run(run_dir):
    """The run's manifest, or None (no manifest, or one a crash left unreadable)."""
    try:
        return json.loads((Path(run_dir) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_texts(run_dir):
    return json.loads((Path(run_dir) / TEXTS_FILE).read_text(encoding="utf-8"))


def mark_run(run_dir, status):
    """Set a run's status in its manifest (no manifest: nothing to mark). Best effort: on
    a full disk the run keeps its old status and a restart offers it for resuming."""
    manifest = read_run(run_dir)
    if manifest is not None:
        try:
            write_json(Path(run_dir) / RUN_FILE, {**manifest, "status": status})
        except OSError as error:
            log.warning("could not mark run %s %s: %s", Path(run_dir).name, status, error)
