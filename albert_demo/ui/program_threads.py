"""Worker threads of their own for the queue-free endpoints programs call (`/predict`,
`/score_candidates`, ...), so that a flood of programs never holds the threads the page's
events run on, and a bound on how many such calls the server holds at once.

Gradio runs a synchronous function, queued or not, on one shared pool (anyio's default,
40 threads); a queue-free endpoint is not held back by any concurrency limit, so 50
programs calling `/predict` took every thread, and a person on the page waited behind
them. Made async here, the endpoint runs on the event loop only to hand its work to this
module's pool (as the fill-mask route does with its own, `fill_mask_route.ROUTE_THREADS`).

    gr.api(on_program_threads(fill_mask), api_name="predict", queue=False)
"""

import asyncio
import functools
import weakref

import anyio
import gradio as gr

# Enough to keep the engine's shared batches full (up to 16 short texts a pass) with room
# for the next requests' encoding; the rest wait, at no cost, for a thread.
PROGRAM_THREADS = 16
# Calls held at once, running or waiting, over all these endpoints; one more is refused at
# once (as the route's `MAX_PENDING`): about a second of waiting on 2 cores.
MAX_PENDING = 256


class _ProgramPool:
    """One event loop's threads and count of held calls (a limiter belongs to the loop it
    was made in; tests and restarts may run several loops in one process)."""

    def __init__(self):
        self.threads = anyio.CapacityLimiter(PROGRAM_THREADS)
        self.pending = 0  # read and changed on the event loop only: no lock needed


_pools = weakref.WeakKeyDictionary()  # event loop -> _ProgramPool


def program_pool():
    loop = asyncio.get_running_loop()
    if loop not in _pools:
        _pools[loop] = _ProgramPool()
    return _pools[loop]


def on_program_threads(fn, max_pending=MAX_PENDING):
    """`fn` as an async function that runs it on the programs' pool, or refuses at once
    (`gr.Error`) when the server already holds `max_pending` such calls. The signature,
    annotations and docstring stay `fn`'s: Gradio's API page and MCP tools read them."""

    @functools.wraps(fn)
    async def run(*args, **kwargs):
        pool = program_pool()
        if pool.pending >= max_pending:
            raise gr.Error(f"The server is holding {max_pending} program requests; try "
                           "again in a second.")
        pool.pending += 1
        try:
            return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs),
                                                  limiter=pool.threads)
        finally:
            pool.pending -= 1
    return run
