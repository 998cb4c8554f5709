"""Serve concurrent requests in one forward pass, without making a lone request wait.

A request that finds the engine idle runs at once, alone. Requests that arrive while a
forward pass is running queue up; when it ends, they all run together as the next batch
(up to `max_batch`). So batching happens only when there is a queue to batch, and on a
busy CPU one padded batch of 4 costs much less than 4 passes of 1.

    batcher = BusyBatcher(lambda items: [f(x) for x in items], max_batch=4)
    batcher(item)        # from many threads; each gets its own result (or exception)
"""

import threading


class _Request:
    __slots__ = ("item", "result", "error", "done", "wake")

    def __init__(self, item):
        self.item, self.result, self.error = item, None, None
        self.done = threading.Event()
        # Set when the request is answered, or when its thread must run the next batch.
        self.wake = threading.Event()


class BusyBatcher:
    """run(items) -> results, one per item, in order; called from one thread at a time."""

    def __init__(self, run, max_batch=4):
        self._run = run
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue = []
        self._running = False
        self.batches = 0      # forward passes run, and the requests they served: the
        self.requests = 0     # tests and benchmarks read how much batching happened

    def __call__(self, item):
        request = _Request(item)
        with self._lock:
            self._queue.append(request)
            if not self._running:
                self._running = True
                request.wake.set()
        while not request.done.is_set():
            request.wake.wait()
            if not request.done.is_set():
                self._run_next_batch()
        if request.error is not None:
            raise request.error
        return request.result

    def _run_next_batch(self):
        with self._lock:
            batch = self._queue[:self.max_batch]
            del self._queue[:self.max_batch]
        try:
            results = self._run([r.item for r in batch])
            for request, result in zip(batch, results):
                request.result = result
        except Exception as error:  # every request of the batch hears of it
            for request in batch:
                request.error = error
        with self._lock:
            self.batches += 1
            self.requests += len(batch)
            if self._queue:  # hand the engine to the oldest waiting request's thread
                self._queue[0].wake.set()
            else:
                self._running = False
        for request in batch:
            request.done.set()
            request.wake.set()
