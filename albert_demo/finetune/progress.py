"""The live state of one fine-tuning run, written by its thread and read by the page.

Example:
```python
progress = FinetuneProgress()
progress.update(status="training", step=3, loss=4.2)
progress.add_point(3, 4.2)
progress.snapshot()          # a plain dict copy: status, step, loss, history, results...
```
"""

import copy
import threading
import time

# A run's statuses: still going, or ended (nothing more will be reported).
ACTIVE = ("queued", "preparing", "evaluating", "training", "saving")
FINISHED = ("done", "cancelled", "failed")


# Statuses after which nothing runs any more (the clock stops at the last update).
FINISHED = ("done", "failed", "cancelled")


class FinetuneProgress:
    """Thread-safe state of one job; `snapshot()` returns a plain dict copy."""

    def __init__(self):
        self._lock = threading.Lock()
        self._state = {"status": "queued", "message": "Waiting to start.",
                       "queue_position": None, "step": 0, "total_steps": None, "loss": None,
                       "tokens_per_s": None, "eta_s": None, "elapsed_s": 0.0,
                       "history": [], "before": None, "after": None, "probes": [],
                       "model_name": None, "preset_dir": None, "zip_path": None,
                       "checkpoint": None, "error": None, "notes": [],
                       "started_at": time.time()}

    def update(self, **changes):
        with self._lock:
            self._state.update(changes)
            self._state["elapsed_s"] = time.time() - self._state["started_at"]

    def add_point(self, step, loss):
        with self._lock:
            self._state["history"].append((step, loss))

    def snapshot(self):
        with self._lock:
            state = copy.deepcopy(self._state)
        if state["status"] not in FINISHED:  # a finished run's clock stopped with it
            state["elapsed_s"] = time.time() - state["started_at"]
        return state
