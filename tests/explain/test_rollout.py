"""Attention rollout against a direct computation written here from the paper's formula."""

import numpy as np

from albert_demo.explain import attention_rollout


def paper_rollout(attention):
    """Abnar & Zuidema (2020), eq. as printed: A = 0.5 W_att + 0.5 I per layer (heads
    averaged), rollout = A_L ... A_2 A_1, computed as one product from the top layer."""
    layers = [0.5 * np.mean(layer, axis=0) + 0.5 * np.identity(layer.shape[-1])
              for layer in attention]
    return [np.linalg.multi_dot(layers[:depth + 1][::-1]) if depth else layers[0]
            for depth in range(len(layers))]


def random_attention(layers=5, heads=3, size=7, seed=0):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(layers, heads, size, size)) * 2
    e = np.exp(scores)
    return e / e.sum(-1, keepdims=True)


def test_rollout_matches_the_papers_formula():
    attention = random_attention()
    ours = attention_rollout(attention)
    expected = paper_rollout(attention)
    assert ours.shape == (5, 7, 7)
    for depth in range(5):
        np.testing.assert_allclose(ours[depth], expected[depth], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours.sum(-1), 1.0, atol=1e-12)  # rows stay distributions


def test_rollout_of_the_engines_attention(tiny_predictor):
    result = tiny_predictor.attention("the quick brown [MASK] jumped over the lazy dog .")
    attention = result["attention"]
    ours = attention_rollout(attention)
    assert ours.shape == (attention.shape[0],) + attention.shape[-2:]
    np.testing.assert_allclose(ours[-1], paper_rollout(attention.astype("float64"))[-1],
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.sum(-1), 1.0, atol=1e-5)


def test_one_layer_of_uniform_attention():
    size = 4
    attention = np.full((1, 2, size, size), 1 / size)
    expected = 0.5 * np.full((size, size), 1 / size) + 0.5 * np.eye(size)
    np.testing.assert_allclose(attention_rollout(attention)[0], expected)
