"""The last layer runs only at the masked positions (an exact saving): its outputs there
equal the full model's, with padding, shared layer groups and the training path."""

import keras
import numpy as np
import pytest
from keras import ops

from albert_demo import AlbertBackbone, AlbertMaskedLM
from model_helpers import random_batch


@pytest.mark.parametrize("groups,inner", [(1, 1), (2, 2)])
def test_output_positions_match_the_full_sequence(groups, inner):
    keras.utils.set_random_seed(3)
    backbone = AlbertBackbone(vocabulary_size=100, num_layers=4, num_heads=2,
                              embedding_dim=8, hidden_dim=16, intermediate_dim=32,
                              num_groups=groups, num_inner_repetitions=inner,
                              max_sequence_length=32)
    batch = random_batch(100, batch=3, length=20, num_masks=5, seed=1,
                         pad_lengths=[20, 13, 7])
    full = backbone(batch)["sequence_output"]
    pruned = backbone(batch, output_positions=batch["mask_positions"])
    assert set(pruned) == {"sequence_output"}
    expected = np.take_along_axis(np.asarray(full), batch["mask_positions"][..., None], axis=1)
    np.testing.assert_allclose(np.asarray(pruned["sequence_output"]), expected, atol=1e-5)


def test_masked_lm_logits_and_gradients_match_the_unpruned_path():
    keras.utils.set_random_seed(4)
    backbone = AlbertBackbone(vocabulary_size=100, num_layers=3, num_heads=2,
                              embedding_dim=8, hidden_dim=16, intermediate_dim=32,
                              max_sequence_length=32, dropout=0.0)
    model = AlbertMaskedLM(backbone, preprocessor=None)
    batch = random_batch(100, batch=2, length=16, num_masks=4, seed=2, pad_lengths=[16, 9])
    pruned = model(batch)
    # The unpruned path: the whole sequence through every layer, gathered by the head.
    full = model(batch, return_attention=True)["logits"]
    np.testing.assert_allclose(np.asarray(pruned), np.asarray(full), atol=1e-5)

    import jax
    labels = np.asarray(batch["mask_positions"]) % 100

    def loss(values, attention):
        out, _ = model.stateless_call(values, [], batch, training=True,
                                      return_attention=attention)
        logits = out["logits"] if attention else out
        return ops.mean(keras.losses.sparse_categorical_crossentropy(labels, logits,
                                                                     from_logits=True))
    values = [v.value for v in model.trainable_variables]
    grad_pruned = jax.grad(lambda v: loss(v, False))(values)
    grad_full = jax.grad(lambda v: loss(v, True))(values)
    for a, b in zip(grad_pruned, grad_full):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
