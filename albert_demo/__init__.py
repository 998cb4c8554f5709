"""albert-demo: a faithful ALBERT masked language model on Keras 3 + JAX.

The backend is chosen once, here, before anything imports keras. The model classes are
imported lazily so light subpackages (the annotation store) do not pull in keras and jax.
"""

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

_EXPORTS = {
    "AlbertBackbone": "albert_demo.models.albert_backbone",
    "AlbertMaskedLM": "albert_demo.models.albert_masked_lm",
    "AlbertMaskedLMPreprocessor": "albert_demo.models.albert_masked_lm_preprocessor",
    "AlbertTokenizer": "albert_demo.models.albert_tokenizer",
}
__all__ = list(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'albert_demo' has no attribute {name!r}")
