"""Helpers for the explanation tests (importable as `explain_helpers`)."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))

from model_helpers import english_sentences, train_spm  # noqa: E402

TINY = dict(num_layers=4, num_heads=4, num_groups=2, num_inner_repetitions=1,
            embedding_dim=16, hidden_dim=32, intermediate_dim=64, max_sequence_length=64)


def tiny_masked_lm(seed=0, std=0.3, spm_proto=None):
    """Random weights far from keras' tiny init (LayerNorms included), so the network is
    clearly non-linear and a wrong gradient cannot pass by being near zero."""
    import keras
    from albert_demo import AlbertBackbone, AlbertMaskedLM
    from albert_demo.models.albert_masked_lm_preprocessor import AlbertMaskedLMPreprocessor
    from albert_demo.models.albert_tokenizer import AlbertTokenizer
    tokenizer = AlbertTokenizer(spm_proto or train_spm(english_sentences(500)))
    keras.utils.set_random_seed(seed)
    backbone = AlbertBackbone(vocabulary_size=tokenizer.vocabulary_size(), **TINY)
    model = AlbertMaskedLM(backbone, AlbertMaskedLMPreprocessor(tokenizer, sequence_length=64))
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        base = 1.0 if "gamma" in variable.path else 0.0
        scale = std
        if "query_kernel" in variable.path or "key_kernel" in variable.path:
            scale = 0.1  # broad attention: every token reaches the mask ...
        elif "value_kernel" in variable.path or "output_kernel" in variable.path:
            scale = 0.5  # ... with a strong value, so every token matters
        variable.assign(base + rng.normal(0, scale, variable.shape).astype("float32"))
    return model
