"""Worker threads of their own, and a bound on the calls they hold, for the requests
programs send: the fill-mask route and the queue-free program endpoints.

Gradio runs synchronous work on anyio's default pool (40 threads), which every event of
the page uses; requests that bypass Gradio's queue and its limits must not take it, or a
script posting in a loop holds every thread a person on the page needs. A call's place is
given back when its thread finishes, not when its caller goes: a cancelled or
disconnected call cannot start more work than the bound.

    workers = BoundedWorkers(threads=16, max_pending=256, name="programs")
    reply = await workers.run(fill_mask, text)   # raises Busy beyond 256 held calls
"""

import asyncio
import contextvars
import functools
import threading
from concurrent.futures import ThreadPoolExecutor


class Busy(Exception):
    """The pool already holds its `max_pending` calls; nothing was started."""

    def __init__(self, max_pending):
        super().__init__(f"holding {max_pending}")
        self.max_pending = max_pending


class BoundedWorkers:
    def __init__(self, threads, max_pending, name):
        self.max_pending = max_pending
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self._pending = 0  # running or waiting for a thread
        self._lock = threading.Lock()  # done callbacks run on the worker threads

    @property
    def pending(self):
        return self._pending

    async def run(self, fn, *args, **kwargs):
        """fn(*args, **kwargs) on one of the threads; `Busy` at once when full."""
        with self._lock:
            if self._pending >= self.max_pending:
                raise Busy(self.max_pending)
            self._pending += 1
        try:
            work = self._threads.submit(contextvars.copy_context().run,
                                        functools.partial(fn, *args, **kwargs))
        except BaseException:
            self._finished(None)
            raise
        # Done (finished, failed, or cancelled before it started) -> the place is free.
        work.add_done_callback(self._finished)
        return await asyncio.wrap_future(work)

    def _finished(self, _work):
        with self._lock:
            self._pending -= 1
