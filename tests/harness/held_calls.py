"""Calls held inside until a test releases them: to fill a pool of worker threads and see
what happens to the calls beyond it."""

import asyncio
import threading


class HeldCalls:
    def __init__(self):
        self.inside = 0
        self.release = threading.Event()
        self._lock = threading.Lock()

    def hold(self):
        """Called from a worker thread: counted in, then held until `release` is set."""
        with self._lock:
            self.inside += 1
        assert self.release.wait(60)

    async def until_inside(self, count):
        """Wait (at most 60 s) until `count` calls are held."""
        for _ in range(6000):
            if self.inside >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"only {self.inside} of {count} calls arrived")
