"""Queue-free program endpoints run on their own worker threads, never the page's."""

import asyncio
import inspect
import threading

import anyio
import gradio as gr

from albert_demo.ui.bounded_workers import BoundedWorkers
from albert_demo.ui.program_threads import PROGRAM_THREADS, on_program_threads
from tests.harness.held_calls import HeldCalls


def test_a_flood_holds_the_programs_threads_never_the_pages():
    held = HeldCalls()

    def answer(text: str, top_k: int = 5) -> dict:
        """Doc an agent reads."""
        held.hold()
        return {"text": text, "top_k": top_k}

    run = on_program_threads(answer)

    async def flood():
        calls = [asyncio.create_task(run(f"t{n}", top_k=n)) for n in range(PROGRAM_THREADS + 8)]
        await held.until_inside(PROGRAM_THREADS)
        await asyncio.sleep(0.2)  # time for any call beyond them to start, were it let
        taken = held.inside
        page_pool = anyio.to_thread.current_default_thread_limiter().borrowed_tokens
        held.release.set()
        return taken, page_pool, await asyncio.gather(*calls)

    taken, page_pool, replies = asyncio.run(flood())
    assert taken == PROGRAM_THREADS and page_pool == 0
    assert replies == [{"text": f"t{n}", "top_k": n} for n in range(PROGRAM_THREADS + 8)]
    # What Gradio's API page and MCP tools read is the function's own.
    assert inspect.iscoroutinefunction(run)
    assert inspect.signature(run) == inspect.signature(answer) and run.__doc__ == answer.__doc__


def test_every_queue_free_program_endpoint_of_the_page_uses_them(tmp_path):
    from albert_demo.annotations import AnnotationStore
    from albert_demo.ui.context import UIContext
    from albert_demo.ui.layout import build_demo
    from tests.campaigns.conftest import FakeCache
    from tests.harness.services import build_services

    store = AnnotationStore(f"sqlite+pysqlite:///{tmp_path / 'annotations.sqlite3'}")
    try:
        parts = build_services(FakeCache(), store, tmp_path)
        demo = build_demo(UIContext(parts.predictions, parts.annotations, parts.evaluation,
                                    tmp_path))
        programs = {fn.api_name: fn for fn in demo.fns.values()
                    if fn.api_name in {"predict", "predict_joint", "score_candidates",
                                       "annotate", "engine_stats"}}
        assert len(programs) == 5
        for name, fn in programs.items():
            assert not fn.queue and inspect.iscoroutinefunction(fn.fn), name
    finally:
        store.close()


def test_calls_past_the_bound_are_refused_at_once_and_the_bound_frees_again():
    import gradio as gr
    import pytest

    release, bound, extra = threading.Event(), PROGRAM_THREADS + 4, 3

    def held(n: int) -> int:
        assert release.wait(60)
        return n

    run = on_program_threads(held, BoundedWorkers(PROGRAM_THREADS, bound, "test"))

    async def flood():
        calls = [asyncio.create_task(run(n)) for n in range(bound + extra)]
        await asyncio.sleep(0.2)  # every call has started: held, waiting or refused
        refused = [call for call in calls if call.done()]
        release.set()
        results = await asyncio.gather(*calls, return_exceptions=True)
        return refused, results, await run(99)

    refused, results, later = asyncio.run(flood())
    assert len(refused) == extra
    for call in refused:
        with pytest.raises(gr.Error, match=f"holding {bound} program requests"):
            call.result()
    assert [r for r in results if not isinstance(r, Exception)] == list(range(bound))
    assert later == 99  # the places are free again


def test_a_cancelled_call_keeps_its_place_until_its_thread_is_done():
    """gradio_client's job.cancel() cancels the waiting task; the work already running
    goes on, so its place must too, or cancelling in a loop would start unbounded work."""
    held, bound = HeldCalls(), PROGRAM_THREADS + 2

    def answer(n: int) -> int:
        held.hold()
        return n

    workers = BoundedWorkers(PROGRAM_THREADS, bound, "test")
    run = on_program_threads(answer, workers)

    async def cancel_and_retry():
        calls = [asyncio.create_task(run(n)) for n in range(bound)]
        await held.until_inside(PROGRAM_THREADS)
        for call in calls:
            call.cancel()
        await asyncio.sleep(0.2)
        held_after_cancel = workers.pending  # 16 running; 2 never started: freed
        retries = [asyncio.create_task(run(99)) for _ in range(3)]  # 2 places are free
        await asyncio.sleep(0.2)
        refused = [retry.exception() for retry in retries if retry.done()]
        running = held.inside
        held.release.set()
        for _ in range(500):
            if workers.pending == 0:
                break
            await asyncio.sleep(0.01)
        return (held_after_cancel, refused, running, await asyncio.gather(*retries[:2]),
                workers.pending)

    held_after_cancel, refused, running, retried, left = asyncio.run(cancel_and_retry())
    assert held_after_cancel == PROGRAM_THREADS
    assert len(refused) == 1 and isinstance(refused[0], gr.Error)
    assert running == PROGRAM_THREADS  # the retries waited for a thread, none was added
    assert retried == [99, 99] and left == 0
