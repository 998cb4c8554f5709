"""Parity with keras-hub 0.32 in both directions through `save_to_preset` folders.

Tiny config (groups=2, inner=2, 4 layers), every weight random N(0, 0.5). Tolerance:
1e-4 absolute on logits and backbone outputs.
"""

import numpy as np
import pytest

from model_helpers import random_batch

ATOL = 1e-4
TINY = dict(num_layers=4, num_heads=4, num_groups=2, num_inner_repetitions=2,
            embedding_dim=16, hidden_dim=32, intermediate_dim=64, max_sequence_length=64)

keras_hub = pytest.importorskip("keras_hub")


def randomize_keras(model, seed, std=0.5):
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign((rng.standard_normal(variable.shape) * std).astype("float32"))


@pytest.fixture(scope="module")
def keras_hub_preset(tmp_path_factory, spm_proto, vocab_size):
    tokenizer = keras_hub.models.AlbertTokenizer(proto=spm_proto)
    preprocessor = keras_hub.models.AlbertMaskedLMPreprocessor(tokenizer, sequence_length=24)
    backbone = keras_hub.models.AlbertBackbone(vocabulary_size=vocab_size, **TINY)
    model = keras_hub.models.AlbertMaskedLM(backbone, preprocessor=preprocessor)
    randomize_keras(model, seed=21)
    folder = tmp_path_factory.mktemp("keras_hub_preset") / "tiny"
    model.save_to_preset(str(folder))
    return folder, model


def diff(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def test_ours_loads_keras_hub_preset(keras_hub_preset, vocab_size):
    from albert_demo import AlbertMaskedLM
    folder, theirs = keras_hub_preset
    assert (folder / "task.weights.h5").is_file()
    ours = AlbertMaskedLM.from_preset(str(folder))
    assert ours.has_pretrained_head
    assert ours.preprocessor.sequence_length == 24
    batch = random_batch(vocab_size, batch=3, length=24, num_masks=5, seed=4)
    expected = np.asarray(theirs(batch))
    got = np.asarray(ours.predict_on_batch(batch))
    assert got.shape == expected.shape == (3, 5, vocab_size)
    d = diff(got, expected)
    print(f"[keras-hub -> ours] max |logit diff| = {d:.3e} "
          f"(logit scale {np.abs(expected).max():.1f})")
    assert d < ATOL
    assert np.abs(expected).max() > 1.0


def test_backbone_parity(keras_hub_preset, vocab_size):
    from albert_demo import AlbertBackbone
    folder, _ = keras_hub_preset
    theirs = keras_hub.models.AlbertBackbone.from_preset(str(folder))
    ours = AlbertBackbone.from_preset(str(folder))
    batch = random_batch(vocab_size, batch=3, length=24, num_masks=1, seed=8)
    inputs = {k: batch[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    expected = theirs(inputs)
    got = ours(inputs)
    d_seq = diff(got["sequence_output"], expected["sequence_output"])
    d_pool = diff(got["pooled_output"], expected["pooled_output"])
    print(f"[keras-hub backbone] max |seq diff| = {d_seq:.3e}, "
          f"max |pooled diff| = {d_pool:.3e}")
    assert d_seq < ATOL and d_pool < ATOL


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_keras_hub_loads_our_preset(tmp_path, spm_proto, vocab_size):
    import keras
    from albert_demo import (AlbertBackbone, AlbertMaskedLM, AlbertMaskedLMPreprocessor,
                             AlbertTokenizer)
    keras.utils.set_random_seed(0)
    backbone = AlbertBackbone(vocabulary_size=vocab_size, **TINY)
    preprocessor = AlbertMaskedLMPreprocessor(AlbertTokenizer(spm_proto), sequence_length=24)
    ours = AlbertMaskedLM(backbone, preprocessor=preprocessor)
    randomize_keras(ours, seed=33)
    folder = tmp_path / "ours"
    ours.save_to_preset(str(folder))
    theirs = keras_hub.models.AlbertMaskedLM.from_preset(str(folder))
    assert theirs.preprocessor.sequence_length == 24
    batch = random_batch(vocab_size, batch=2, length=24, num_masks=3, seed=6)
    d = diff(ours.predict_on_batch(batch), theirs(batch))
    print(f"[ours -> keras-hub] max |logit diff| = {d:.3e}")
    assert d < ATOL
    # And keras-hub's backbone from our folder agrees too.
    theirs_backbone = keras_hub.models.AlbertBackbone.from_preset(str(folder))
    inputs = {k: batch[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    assert diff(backbone(inputs)["sequence_output"],
                theirs_backbone(inputs)["sequence_output"]) < ATOL
    # Round trip through our own loader is exact.
    again = AlbertMaskedLM.from_preset(str(folder))
    assert diff(again.predict_on_batch(batch), ours.predict_on_batch(batch)) < 1e-6
