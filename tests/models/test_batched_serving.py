"""Requests that arrive together share a forward pass and get exactly the answers they
would get alone; a lone request runs at once."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from albert_demo.engine import ModelCache
from albert_demo.engine.batcher import BusyBatcher
from albert_demo.presets.registry import EMBEDDED_PRESET

TEXTS = ["The sky is [MASK].", "I forgot my [MASK] at home.", "A [MASK] of tea.",
         "She opened the [MASK] and walked into the [MASK] room.", "Dogs [MASK] loudly.",
         "The [MASK] barked.", "We ate [MASK] for dinner.", "He plays the [MASK]."]


def wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_busy_batcher_batches_only_while_busy_and_keeps_order():
    started, gate, seen = threading.Event(), threading.Event(), []

    def run(items):
        seen.append(list(items))
        if items == [0]:
            started.set()
            assert gate.wait(60)  # hold the first pass so the others queue up behind it
        return [x * 10 for x in items]

    batcher = BusyBatcher(run, max_batch=4)
    assert batcher(1) == 10 and seen == [[1]]  # alone: runs at once, by itself
    seen.clear()
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(batcher, 0)
        assert started.wait(60)
        rest = [pool.submit(batcher, n) for n in range(1, 6)]
        wait_for(lambda: len(batcher._queue) == 5)
        gate.set()
        assert first.result() == 0 and [f.result() for f in rest] == [10, 20, 30, 40, 50]
    assert seen[0] == [0] and sorted(sum(seen[1:], [])) == [1, 2, 3, 4, 5]
    assert [len(b) for b in seen[1:]] == [4, 1]  # the queue ran as one full batch, then 1


def test_errors_reach_every_request_of_the_batch():
    def run(items):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        BusyBatcher(run)(1)


def test_concurrent_predictions_equal_lone_ones():
    predictor = ModelCache().get(EMBEDDED_PRESET)
    alone = [predictor.predict(text, 7) for text in TEXTS]
    before = {n: (b.batches, b.requests) for n, b in predictor._batchers.items()}
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda t: predictor.predict(t, 7), TEXTS * 3))
    for got, want in zip(together, alone * 3):
        assert [m["index"] for m in got["masks"]] == [m["index"] for m in want["masks"]]
        for g, w in zip(got["masks"], want["masks"]):
            assert [p["token_id"] for p in g["predictions"]] == \
                [p["token_id"] for p in w["predictions"]]
            assert [p["score"] for p in g["predictions"]] == pytest.approx(
                [p["score"] for p in w["predictions"]], rel=1e-4, abs=1e-6)
        assert got["filled_text"] == want["filled_text"]
    served = sum(b.requests - before.get(n, (0, 0))[1] for n, b in predictor._batchers.items())
    passes = sum(b.batches - before.get(n, (0, 0))[0] for n, b in predictor._batchers.items())
    assert served == len(TEXTS) * 3 and passes <= served


def test_a_queue_of_short_texts_shares_passes_of_up_to_16():
    """Under load, short texts (length bucket 16) go 16 to a pass, long ones fewer: a pass
    holds at most 256 tokens, so its wait stays short while each row costs less."""
    from albert_demo.engine.predictor import MaskPredictor, serving_batch

    assert [serving_batch(t) for t in (16, 32, 64, 128, 256, 512)] == [16, 8, 4, 2, 1, 1]
    predictor = MaskPredictor(ModelCache().get(EMBEDDED_PRESET).masked_lm)
    started, gate, sizes = threading.Event(), threading.Event(), []
    ranked_rows = predictor._ranked_rows

    def held_first_pass(items):
        sizes.append(len(items))
        if len(sizes) == 1:
            started.set()
            assert gate.wait(60)  # the others queue up behind the first pass
        return ranked_rows(items)

    predictor._ranked_rows = held_first_pass
    with ThreadPoolExecutor(21) as pool:
        first = pool.submit(predictor.predict, "The sky is [MASK].", 3)
        assert started.wait(60)
        rest = [pool.submit(predictor.predict, f"Text {n} is [MASK].", 3) for n in range(20)]
        wait_for(lambda: len(predictor._batchers[16]._queue) == 20)
        gate.set()
        assert first.result()["masks"] and all(f.result()["masks"] for f in rest)
    assert sizes == [1, 16, 4]
