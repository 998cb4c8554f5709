"""Same-shaped inputs never retrace; a new shape traces exactly once more.

Counts traces directly: a Python side effect inside a `jax.jit`-ed function runs only
while JAX traces it. Tiny random model, so each compilation is cheap.
"""

import jax
import numpy as np
import pytest

from model_helpers import random_batch

TINY = dict(vocabulary_size=200, num_layers=4, num_heads=4, num_groups=2,
            num_inner_repetitions=2, embedding_dim=16, hidden_dim=32, intermediate_dim=64,
            max_sequence_length=64)


@pytest.fixture(scope="module")
def tiny_masked_lm():
    import keras
    from albert_demo import AlbertBackbone, AlbertMaskedLM
    keras.utils.set_random_seed(0)
    return AlbertMaskedLM(AlbertBackbone(**TINY))


def test_stateless_call_traces_once_per_shape(tiny_masked_lm):
    model = tiny_masked_lm
    traces = []

    def forward(trainable, non_trainable, inputs):
        traces.append(inputs["token_ids"].shape)  # runs only when JAX traces
        logits, _ = model.stateless_call(trainable, non_trainable, inputs)
        return logits

    jitted = jax.jit(forward)
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    outputs = []
    for seed in range(5):  # different values, same shapes
        batch = random_batch(200, batch=2, length=16, num_masks=3, seed=seed)
        outputs.append(np.asarray(jitted(trainable, non_trainable, batch)))
    assert len(traces) == 1
    # The compiled function computes the same numbers as the eager model.
    np.testing.assert_allclose(outputs[-1], np.asarray(model(batch)), atol=1e-5)
    jitted(trainable, non_trainable, random_batch(200, batch=2, length=24, num_masks=3))
    assert len(traces) == 2
    assert traces == [(2, 16), (2, 24)]
    jitted(trainable, non_trainable, random_batch(200, batch=2, length=24, num_masks=3,
                                                  seed=9))
    assert len(traces) == 2


def test_predict_on_batch_does_not_retrace(tiny_masked_lm):
    """keras' own jitted predict function: 5 same-shaped calls, then a new shape."""
    model = tiny_masked_lm
    traces = []
    original_call = type(model).call

    def counting_call(self, *args, **kwargs):
        traces.append(1)
        return original_call(self, *args, **kwargs)

    model.call = counting_call.__get__(model)
    try:
        model.make_predict_function(force=True)
        for seed in range(5):
            model.predict_on_batch(random_batch(200, batch=2, length=16, num_masks=3,
                                                seed=seed))
        first = len(traces)
        assert first >= 1
        for seed in range(5):
            model.predict_on_batch(random_batch(200, batch=2, length=16, num_masks=3,
                                                seed=seed + 10))
        assert len(traces) == first  # no retrace for same shapes
        model.predict_on_batch(random_batch(200, batch=2, length=20, num_masks=3))
        assert len(traces) > first  # a new shape traces again
    finally:
        del model.call


engine = pytest.importorskip("albert_demo.engine")


def test_engine_buckets_do_not_recompile(tiny_masked_lm):
    """The inference engine pads to buckets: lengths 5..16 share one program."""
    compiled = engine.CompiledMaskedLM(tiny_masked_lm)
    rng = np.random.default_rng(0)

    def request(length, masks=1, batch=1, with_attention=False):
        ids = [np.concatenate([[2], rng.integers(5, 200, length - 2), [3]]).astype("int32")
               for _ in range(batch)]
        segs = [np.zeros(length, "int32") for _ in range(batch)]
        pos = [np.arange(1, 1 + masks, dtype="int32") for _ in range(batch)]
        return ids, segs, pos, compiled(ids, segs, pos, with_attention=with_attention)

    for length in (5, 8, 12, 16, 16):
        request(length)
    assert compiled.trace_count == 1
    ids, segs, pos, (logits, _) = request(30, masks=2)
    assert compiled.trace_count == 2
    request(17, masks=3)
    assert compiled.trace_count == 2
    # Bucket padding does not change the numbers at real positions.
    batch = {"token_ids": np.stack(ids), "segment_ids": np.stack(segs),
             "padding_mask": np.ones((1, 30), "int32"), "mask_positions": np.stack(pos)}
    expected = np.asarray(tiny_masked_lm(batch))
    assert logits.shape == expected.shape == (1, 2, 200)
    np.testing.assert_allclose(logits, expected, atol=1e-4)
