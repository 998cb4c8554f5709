"""At most a few trainings at once; the rest wait their turn and see their place.

Example:
```python
queue = TrainingQueue(max_concurrent=1)
if queue.acquire(job):      # blocks; False when the job was cancelled while waiting
    try:
        ...                 # train
    finally:
        queue.release(job)
```
"""

import threading

from albert_demo import settings


class TrainingQueue:
    """At most `max_concurrent` trainings run at once (default: the server's
    `ALBERT_DEMO_MAX_CONCURRENT_TRAININGS`, 1); the rest wait in order. A job needs
    `.cancelled` and `.progress`."""

    def __init__(self, max_concurrent=None):
        self.max_concurrent = max_concurrent or max(
            1, settings.current().max_concurrent_trainings)
        self._cond = threading.Condition()
        self._waiting, self._running = [], set()

    def acquire(self, job):
        """Block until `job` may run (True) or is cancelled while waiting (False)."""
        with self._cond:
            self._waiting.append(job)
            while True:
                index = self._waiting.index(job)
                if job.cancelled:
                    self._waiting.remove(job)
                    self._cond.notify_all()
                    return False
                if index < self.max_concurrent - len(self._running):
                    self._waiting.remove(job)
                    self._running.add(job)
                    self._cond.notify_all()
                    job.progress.update(queue_position=None)
                    return True
                ahead = index + len(self._running) - self.max_concurrent + 1
                job.progress.update(queue_position=ahead, message=(
                    f"Queued: {ahead} training(s) ahead of yours."))
                self._cond.wait(0.25)

    def release(self, job):
        with self._cond:
            self._running.discard(job)
            self._cond.notify_all()

    def __len__(self):
        with self._cond:
            return len(self._waiting) + len(self._running)


_default_queue = None
_default_queue_lock = threading.Lock()


def default_queue():
    """The process's queue, for jobs started without one."""
    global _default_queue
    with _default_queue_lock:
        if _default_queue is None:
            _default_queue = TrainingQueue()
        return _default_queue
