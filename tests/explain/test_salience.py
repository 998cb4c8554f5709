"""Token salience: the gradients against finite differences, integrated gradients'
completeness, the endpoints against the model's own forward pass, one compilation per
(bucket, steps), and clear errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from albert_demo.engine.errors import InputError
from albert_demo.engine.salience import log_probs_from_vectors

TEXT = "the quick brown [MASK] jumped over the lazy dog ."


def _inputs(predictor, text, ordinal=0):
    _, ids, positions = predictor.encode(text)
    return ids, positions[ordinal]


def _model_log_probs(predictor, ids, position):
    """log p at one mask from the model's own forward pass on token ids (full softmax)."""
    logits, _ = predictor.compiled([ids], [np.zeros_like(ids)], [np.array([position])])
    z = logits[0, 0].astype("float64")
    return z - z.max() - np.log(np.exp(z - z.max()).sum())


def _log_prob_fn(predictor, ids, position, target):
    """f(vectors (T, E)) = log p(target) at the mask, as a plain JAX function."""
    model = predictor.masked_lm
    n = len(ids)

    def f(vectors):
        out = log_probs_from_vectors(model, vectors[None], jnp.zeros((1, n), "int32"),
                                     jnp.ones((1, n), "int32"),
                                     jnp.full((1, 1), position, "int32"))
        return out[0, target]
    table = np.asarray(model.backbone.token_embedding.value)
    return f, table[ids].astype("float32"), table


def test_forward_from_vectors_is_the_models_forward(tiny_predictor):
    ids, position = _inputs(tiny_predictor, TEXT)
    reference = _model_log_probs(tiny_predictor, ids, position)
    f, vectors, _ = _log_prob_fn(tiny_predictor, ids, position, 0)
    ours = np.asarray(log_probs_from_vectors(
        tiny_predictor.masked_lm, vectors[None], np.zeros((1, len(ids)), "int32"),
        np.ones((1, len(ids)), "int32"), np.full((1, 1), position, "int32")))[0]
    assert reference.std() > 0.5  # not a trivially flat distribution
    np.testing.assert_allclose(ours, reference, atol=2e-4)


def test_gradient_matches_finite_differences(tiny_predictor):
    ids, position = _inputs(tiny_predictor, TEXT)
    target = int(np.argmax(_model_log_probs(tiny_predictor, ids, position)))
    f, x, _ = _log_prob_fn(tiny_predictor, ids, position, target)
    grad = np.asarray(jax.grad(f)(jnp.asarray(x)), "float64")
    assert np.abs(grad).max() > 1e-2
    rng = np.random.default_rng(0)
    eps = 1e-2
    for _ in range(4):  # random directions over the whole input
        d = rng.normal(size=x.shape).astype("float32")
        d /= np.linalg.norm(d)
        numeric = (float(f(x + eps * d)) - float(f(x - eps * d))) / (2 * eps)
        assert abs(numeric - float((grad * d).sum())) <= 2e-3 + 2e-2 * abs(numeric)


def test_gradient_x_input_matches_finite_differences_per_token(tiny_predictor):
    """gradient x input of token i is d/dt f(x with x_i scaled by 1 + t) at t = 0."""
    result = tiny_predictor.salience(TEXT, method="gradient_x_input")
    ids, position = _inputs(tiny_predictor, TEXT)
    f, x, _ = _log_prob_fn(tiny_predictor, ids, position, result["target"]["token_id"])
    eps = 1e-2
    for i, attribution in enumerate(result["attributions"]):
        up, down = x.copy(), x.copy()
        up[i] *= 1 + eps
        down[i] *= 1 - eps
        numeric = (float(f(up)) - float(f(down))) / (2 * eps)
        assert abs(numeric - attribution) <= 2e-3 + 2e-2 * abs(numeric), i


@pytest.mark.parametrize("method", ["integrated_gradients", "gradient_x_input"])
def test_endpoints_are_the_models_own_log_probs(tiny_predictor, method):
    """log_prob is the text's; baseline_log_prob is the model's on the same ids with every
    non-special token replaced by [MASK] (the baseline, computed here the plain way)."""
    result = tiny_predictor.salience(TEXT, token="fox", method=method)
    ids, position = _inputs(tiny_predictor, TEXT)
    target = result["target"]["token_id"]
    assert result["pieces"][0].lstrip("\u2581")  # the word as the tokenizer splits it
    assert abs(result["target"]["log_prob"]
               - _model_log_probs(tiny_predictor, ids, position)[target]) < 2e-4
    tok = tiny_predictor.tokenizer
    baseline = np.where(np.isin(ids, tok.special_token_ids), ids, tok.mask_token_id)
    assert abs(result["baseline_log_prob"]
               - _model_log_probs(tiny_predictor, baseline, position)[target]) < 2e-4


@pytest.mark.parametrize("text", [TEXT, "[MASK] cats and dogs running happily over the "
                                  "river bank .", "my homework is [MASK] and the sky [MASK]"])
def test_integrated_gradients_completeness_tiny(tiny_predictor, text):
    result = tiny_predictor.salience(text, mask_ordinal=text.count("[MASK]") - 1, token="dog",
                                     steps=32)
    change = result["target"]["log_prob"] - result["baseline_log_prob"]
    total = sum(result["attributions"])
    assert abs(change) > 0.02  # the baseline changes the prediction (more: embedded test)
    assert abs(total - change) <= 0.05 * abs(change)
    assert result["completeness_error"] == pytest.approx(abs(total - change) / abs(change))
    # special tokens and masks are the same in input and baseline: exactly no attribution
    for token, value in zip(result["tokens"], result["attributions"]):
        if token in ("[CLS]", "[SEP]", "[MASK]"):
            assert value == 0.0


def test_integrated_gradients_completeness_embedded(embedded_predictor):
    errors = []
    for text in ("The capital of France is [MASK].", "She opened the [MASK] and walked in.",
                 "I forgot my [MASK] at home this morning."):
        result = embedded_predictor.salience(text)
        assert result["method"] == "integrated_gradients" and result["steps"] == 32
        change = result["target"]["log_prob"] - result["baseline_log_prob"]
        assert abs(sum(result["attributions"]) - change) <= 0.05 * max(abs(change), 0.01)
        errors.append(result["completeness_error"])
    assert max(errors) < 0.05, errors


def test_default_target_is_the_best_prediction(tiny_predictor):
    best = tiny_predictor.predict(TEXT, top_k=1)["masks"][0]["predictions"][0]
    result = tiny_predictor.salience(TEXT)
    assert result["target"]["token_id"] == best["token_id"]
    assert np.exp(result["target"]["log_prob"]) == pytest.approx(best["score"], rel=1e-3)
    assert "pieces" not in result
    by_id = tiny_predictor.salience(TEXT, token_id=best["token_id"])
    assert by_id["attributions"] == pytest.approx(result["attributions"], abs=1e-6)


def test_no_recompile_within_a_bucket(tiny_predictor):
    program = tiny_predictor.compiled_salience
    tiny_predictor.salience("the [MASK] is blue .", steps=8)
    traces = program.trace_count
    for text in ("the sky is [MASK] .", "[MASK] dog", "a river bank full of [MASK] money ."):
        tiny_predictor.salience(text, steps=8, token="dog")  # same bucket (16), same steps
    assert program.trace_count == traces
    tiny_predictor.salience("the sky is [MASK] .", steps=4)  # new steps: one more program
    assert program.trace_count == traces + 1
    tiny_predictor.salience(" ".join(["dog"] * 20) + " [MASK]", steps=8)  # bucket 32
    assert program.trace_count == traces + 2
    assert {shape for shape, _ in program.traced_shapes} >= {(16,), (32,)}


@pytest.mark.parametrize("kwargs, message", [
    (dict(mask_ordinal=1), "out of range"),
    (dict(mask_ordinal=-1), "out of range"),
    (dict(mask_ordinal="first"), "whole number"),
    (dict(method="saliency"), "Unknown method"),
    (dict(token="\u0436\u0436\u0436"), "not in this model's vocabulary"),
    (dict(token="two words"), "one word"),
    (dict(token="[MASK]"), "special token"),
    (dict(token=5), "must be a word"),
    (dict(steps=0), "steps must be"),
    (dict(token_id=10 ** 6), "outside the vocabulary"),
])
def test_bad_requests_get_clear_errors(tiny_predictor, kwargs, message):
    with pytest.raises(InputError, match=message):
        tiny_predictor.salience(TEXT, **kwargs)


def test_text_errors_are_the_predictors(tiny_predictor):
    with pytest.raises(InputError, match="No \\[MASK\\]"):
        tiny_predictor.salience("no mask here")
