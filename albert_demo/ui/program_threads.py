"""Worker threads of their own for the queue-free endpoints programs call (`/predict`,
`/score_candidates`, ...), so that a flood of programs never holds the threads the page's
events run on.

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

# Enough to keep the engine's shared batches full (up to 16 short texts a pass) with room
# for the next requests' encoding; the rest wait, at no cost, for a thread.
PROGRAM_THREADS = 16

_limiters = weakref.WeakKeyDictionary()  # event loop -> its CapacityLimiter


def program_threads():
    """This event loop's pool (a limiter belongs to the loop it was made in; tests and
    restarts may run several loops in one process)."""
    loop = asyncio.get_running_loop()
    if loop not in _limiters:
        _limiters[loop] = anyio.CapacityLimiter(PROGRAM_THREADS)
    return _limiters[loop]


def on_program_threads(fn):
    """`fn` as an async function that runs it on the programs' pool. The signature,
    annotations and docstring stay `fn`'s: Gradio's API page and MCP tools read them."""

    @functools.wraps(fn)
    async def run(*args, **kwargs):
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs),
                                              limiter=program_threads())
    return run
