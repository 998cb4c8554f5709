"""Threads of their own for the queue-free endpoints programs call (`/predict`,
`/score_candidates`, ...), and a bound on how many such calls the server holds at once.

`gradio_client` (and the MCP server, which calls through it) reaches these endpoints
through Gradio's queue, whose concurrency limits hold them back. A raw
`POST /gradio_api/run/<name>` does not: Gradio runs it at once, on the one pool every
page event uses, so a script posting in a loop could take every thread a person on the
page needs. Made async here, the endpoint runs on the event loop only to hand its work to
`PROGRAMS` (as the fill-mask route does to its own `BoundedWorkers`).

    gr.api(on_program_threads(fill_mask), api_name="predict", queue=False)
"""

import functools

import gradio as gr

from albert_demo.ui.bounded_workers import BoundedWorkers, Busy

# Enough to keep the engine's shared batches full (up to 16 short texts a pass) with room
# for the next requests' encoding; the rest wait, at no cost, for a thread.
PROGRAM_THREADS = 16
# Calls held at once, running or waiting, over all these endpoints; one more is refused at
# once (as the route's `MAX_PENDING`): about a second of waiting on 2 cores.
MAX_PENDING = 256
PROGRAMS = BoundedWorkers(PROGRAM_THREADS, MAX_PENDING, "programs")


def on_program_threads(fn, workers=PROGRAMS):
    """`fn` as an async function that runs it on `workers`, or refuses at once
    (`gr.Error`) when they already hold their bound of calls. The signature, annotations
    and docstring stay `fn`'s: Gradio's API page and MCP tools read them."""

    @functools.wraps(fn)
    async def run(*args, **kwargs):
        try:
            return await workers.run(fn, *args, **kwargs)
        except Busy as busy:
            raise gr.Error(f"The server is holding {busy.max_pending} program requests; "
                           "try again in a second.", print_exception=False) from None
    return run
