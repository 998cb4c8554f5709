"""Worker threads of their own for the queue-free endpoints programs call (`/predict`,
`/score_candidates`, ...), and a bound on how many such calls the server holds at once.

`gradio_client` (and the MCP server, which calls through it) reaches these endpoints
through Gradio's queue, whose concurrency limits hold them back. A raw
`POST /gradio_api/run/<name>` does not: Gradio runs it at once, on the one pool every
page event uses (anyio's default, 40 threads), so a script posting in a loop could take
every thread a person on the page needs. Made async here, the endpoint runs on the event
loop only to hand its work to this module's own threads (as the fill-mask route does,
`fill_mask_route.ROUTE_THREADS`).

A call's place is given back when its thread finishes, not when its caller goes: a
cancelled call (gradio_client's `job.cancel()`) cannot start more work than the bound.

    gr.api(on_program_threads(fill_mask), api_name="predict", queue=False)
"""

import asyncio
import contextvars
import functools
import weakref
from concurrent.futures import ThreadPoolExecutor

import gradio as gr

# Enough to keep the engine's shared batches full (up to 16 short texts a pass) with room
# for the next requests' encoding; the rest wait, at no cost, for a thread.
PROGRAM_THREADS = 16
# Calls held at once, running or waiting, over all these endpoints; one more is refused at
# once (as the route's `MAX_PENDING`): about a second of waiting on 2 cores.
MAX_PENDING = 256


class _ProgramPool:
    """One event loop's threads and count of held calls (tests and restarts may run
    several loops in one process)."""

    def __init__(self):
        self.threads = ThreadPoolExecutor(PROGRAM_THREADS, thread_name_prefix="programs")
        self.pending = 0  # read and changed on the event loop only: no lock needed

    def finished(self):
        self.pending -= 1


_pools = weakref.WeakKeyDictionary()  # event loop -> _ProgramPool


def program_pool():
    loop = asyncio.get_running_loop()
    if loop not in _pools:
        _pools[loop] = _ProgramPool()
    return _pools[loop]


def on_program_threads(fn, max_pending=MAX_PENDING):
    """`fn` as an async function that runs it on the programs' threads, or refuses at once
    (`gr.Error`) when the server already holds `max_pending` such calls. The signature,
    annotations and docstring stay `fn`'s: Gradio's API page and MCP tools read them."""

    @functools.wraps(fn)
    async def run(*args, **kwargs):
        loop, pool = asyncio.get_running_loop(), program_pool()
        if pool.pending >= max_pending:
            raise gr.Error(f"The server is holding {max_pending} program requests; try "
                           "again in a second.", print_exception=False)
        context = contextvars.copy_context()
        work = pool.threads.submit(context.run, functools.partial(fn, *args, **kwargs))
        pool.pending += 1
        # Done (finished, failed, or cancelled before it started) -> the place is free.
        work.add_done_callback(lambda _: loop.call_soon_threadsafe(pool.finished))
        return await asyncio.wrap_future(work)
    return run
