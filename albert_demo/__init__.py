"""albert-demo: a faithful ALBERT masked language model on Keras 3 + JAX.

The backend is chosen once, here, before anything imports keras.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

from albert_demo.models.albert_backbone import AlbertBackbone  # noqa: E402
from albert_demo.models.albert_masked_lm import AlbertMaskedLM  # noqa: E402
from albert_demo.models.albert_masked_lm_preprocessor import (  # noqa: E402
    AlbertMaskedLMPreprocessor,
)
from albert_demo.models.albert_tokenizer import AlbertTokenizer  # noqa: E402

__all__ = [
    "AlbertBackbone",
    "AlbertMaskedLM",
    "AlbertMaskedLMPreprocessor",
    "AlbertTokenizer",
]
__version__ = "0.1.0"
