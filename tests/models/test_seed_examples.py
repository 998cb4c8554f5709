"""The two examples of the keras-hub `AlbertMaskedLM` page, run against our library with
the shipped offline preset `albert_tiny_en_uncased` (sequence_length=32 to stay fast),
plus the behaviour they promise: a frozen backbone stays frozen, attention maps are sane.
"""

import keras
import numpy as np
import pytest

from albert_demo import AlbertMaskedLM

PRESET = "albert_tiny_en_uncased"


def weights_of(model):
    return {v.path: np.array(v.numpy()) for v in model.weights}


def test_raw_string_example():
    """Seed example 1, as written apart from the preset name and sequence_length=32."""
    features = ["The quick brown fox jumped.", "I forgot my homework."]
    # Pretrained language model.
    masked_lm = AlbertMaskedLM.from_preset(PRESET, sequence_length=32)
    assert masked_lm.preprocessor.sequence_length == 32
    history = masked_lm.fit(x=features, batch_size=2)
    assert np.isfinite(history.history["loss"][0])
    # Re-compile (e.g., with a new learning rate).
    masked_lm.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.Adam(5e-5),
        jit_compile=True,
    )
    # Access backbone programmatically (e.g., to change `trainable`).
    masked_lm.backbone.trainable = False
    before = weights_of(masked_lm.backbone)
    # Fit again.
    history = masked_lm.fit(x=features, batch_size=2)
    assert np.isfinite(history.history["loss"][0])
    after = weights_of(masked_lm.backbone)
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)


def test_preprocessed_integer_example():
    """Seed example 2, as written apart from the preset name."""
    # Create preprocessed batch where 0 is the mask token.
    features = {
        "token_ids": np.array([[1, 2, 0, 4, 0, 6, 7, 8]] * 2),
        "padding_mask": np.array([[1, 1, 1, 1, 1, 1, 1, 1]] * 2),
        "mask_positions": np.array([[2, 4]] * 2),
        "segment_ids": np.array([[0, 0, 0, 0, 0, 0, 0, 0]] * 2),
    }
    # Labels are the original masked values.
    labels = [[3, 5]] * 2
    masked_lm = AlbertMaskedLM.from_preset(
        PRESET,
        preprocessor=None,
    )
    assert masked_lm.preprocessor is None
    before = weights_of(masked_lm)
    history = masked_lm.fit(x=features, y=labels, batch_size=2)
    loss = history.history["loss"][0]
    assert np.isfinite(loss) and loss > 0
    after = weights_of(masked_lm)
    assert any(not np.array_equal(before[n], after[n]) for n in before)
    logits = masked_lm.predict(features, verbose=0)
    assert logits.shape == (2, 2, 16000)


def test_frozen_backbone_only_head_trains():
    """`backbone.trainable = False`: every backbone weight (the tied token embedding
    included) is bit-identical after fit; the head's own weights move."""
    masked_lm = AlbertMaskedLM.from_preset(PRESET, sequence_length=32)
    masked_lm.backbone.trainable = False
    masked_lm.compile(optimizer=keras.optimizers.Adam(1e-2))
    backbone_before = weights_of(masked_lm.backbone)
    head_before = weights_of(masked_lm.masked_lm_head)
    assert len(masked_lm.trainable_weights) == len(head_before) == 5
    features = ["The quick brown fox jumped over the lazy dog.",
                "I forgot my homework at the river bank.",
                "Paris is the capital of France.", "The sky is blue today."]
    masked_lm.fit(x=features, batch_size=2, epochs=2, verbose=0)
    for name, value in weights_of(masked_lm.backbone).items():
        np.testing.assert_array_equal(backbone_before[name], value, err_msg=name)
    head_after = weights_of(masked_lm.masked_lm_head)
    changed = [n for n in head_before if not np.array_equal(head_before[n], head_after[n])]
    assert len(changed) == 5, changed
    # Unfreezing and fitting again moves the backbone.
    masked_lm.backbone.trainable = True
    masked_lm.compile(optimizer=keras.optimizers.Adam(1e-3))
    masked_lm.fit(x=features, batch_size=2, verbose=0)
    after = weights_of(masked_lm.backbone)
    assert any(not np.array_equal(backbone_before[n], after[n]) for n in after)


def test_attention_probabilities():
    masked_lm = AlbertMaskedLM.from_preset(PRESET, sequence_length=32)
    backbone = masked_lm.backbone
    x, _, _ = masked_lm.preprocessor(["The quick brown fox jumped.",
                                      "I forgot my homework, again and again and again."])
    inputs = {k: x[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    probs = np.asarray(backbone(inputs, return_attention=True)["attention_probs"])
    maps = backbone.num_layers * backbone.num_inner_repetitions
    assert probs.shape == (maps, 2, backbone.num_heads, 32, 32)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    padded = ~x["padding_mask"].astype(bool)  # (batch, keys)
    assert padded.any(axis=1).all(), "both rows must have padding for this test"
    on_padded_keys = probs * padded[None, :, None, None, :]
    assert float(on_padded_keys.max()) < 1e-6
    # Real keys carry all the mass.
    real = probs * (~padded)[None, :, None, None, :]
    np.testing.assert_allclose(real.sum(-1), 1.0, atol=1e-5)
    # And the model-level call exposes the same maps.
    out = masked_lm(x, return_attention=True)
    np.testing.assert_allclose(np.asarray(out["attention_probs"]), probs, atol=1e-6)


@pytest.mark.slow
def test_raw_string_example_default_sequence_length():
    """Example 1 verbatim with the preset's own sequence_length (512)."""
    features = ["The quick brown fox jumped.", "I forgot my homework."]
    masked_lm = AlbertMaskedLM.from_preset(PRESET)
    assert masked_lm.preprocessor.sequence_length == 512
    masked_lm.fit(x=features, batch_size=2)
    masked_lm.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.Adam(5e-5),
        jit_compile=True,
    )
    masked_lm.backbone.trainable = False
    before = weights_of(masked_lm.backbone)
    masked_lm.fit(x=features, batch_size=2)
    for name, value in weights_of(masked_lm.backbone).items():
        np.testing.assert_array_equal(before[name], value, err_msg=name)


def test_freezing_after_fit_without_recompile_still_trains_the_head():
    """keras alone refuses (the built optimizer tracks the old variables); we refresh it."""
    masked_lm = AlbertMaskedLM.from_preset("albert_tiny_en_uncased", sequence_length=16)
    features = ["The quick brown fox jumped.", "I forgot my homework."]
    masked_lm.fit(x=features, batch_size=2, verbose=0)
    masked_lm.backbone.trainable = False
    backbone_before = [np.array(w) for w in masked_lm.backbone.weights]
    head_before = np.array(masked_lm.masked_lm_head.dense.kernel)
    masked_lm.fit(x=features, batch_size=2, verbose=0)
    assert all(np.array_equal(a, np.array(w))
               for a, w in zip(backbone_before, masked_lm.backbone.weights))
    assert not np.array_equal(head_before, np.array(masked_lm.masked_lm_head.dense.kernel))
