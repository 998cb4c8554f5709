"""The "serving is busy" signal is one object: predictions mark it, training yields to it."""

import time

from albert_demo.engine.activity import ServingActivity


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_busy_for_a_second_after_a_request():
    clock = Clock()
    activity = ServingActivity(clock)
    assert not activity.busy()
    activity.mark()
    clock.now += 0.5
    assert activity.busy()
    clock.now += 0.6
    assert not activity.busy()


def test_predictors_of_the_cache_mark_its_activity(tiny_preset):
    from albert_demo.engine import MaskPredictor, ModelCache
    activity = ServingActivity()
    cache = ModelCache(activity=activity)
    predictor = cache.get(tiny_preset)
    started = time.monotonic()  # (marked as the forward pass starts; compiling takes a while)
    predictor.predict("the court [MASK] the motion.", top_k=1)
    assert activity.last_request >= started
    other = ServingActivity()  # a predictor made elsewhere marks its own, not the server's
    MaskPredictor(predictor.masked_lm, activity=other).predict("a [MASK].")
    assert other.last_request >= started and activity.last_request < other.last_request


def test_training_pauses_only_while_serving_is_busy(monkeypatch):
    from albert_demo.finetune import training
    slept = []
    monkeypatch.setattr(training.time, "sleep", slept.append)
    clock = Clock()
    activity = ServingActivity(clock)
    monitor = training.FinetuneMonitor(10, 100, lambda *a: None, serving=activity,
                                       yield_factor=3)
    ticks = iter([1.0, 1.2, 1.4, 5.0, 5.2])
    monkeypatch.setattr(training.time, "monotonic", lambda: next(ticks))
    monitor._yield_to_serving()          # first step: nothing to compare with
    monitor._yield_to_serving()          # idle server: no pause
    assert slept == []
    activity.mark()
    monitor._yield_to_serving()          # busy: 3 x the 0.2 s step
    assert len(slept) == 1 and abs(slept[0] - 3 * (1.4 - 1.2)) < 1e-9
    quiet = training.FinetuneMonitor(10, 100, lambda *a: None, serving=None)
    quiet._yield_to_serving()
    assert len(slept) == 1               # no activity object: never yields
