"""Annotation store for albert-demo (SQLite / PostgreSQL via SQLAlchemy Core).

Deliberately light: no keras/jax imports here.
"""

from .store import Annotation, AnnotationStore
from .training import (
    evaluation_items,
    evaluation_set,
    fill_word,
    gold_token,
    skip_summary,
    to_training_texts,
)
from .validation import MASK, AnnotationError, AnnotationNotFound

__all__ = [
    "MASK",
    "Annotation",
    "AnnotationError",
    "AnnotationNotFound",
    "AnnotationStore",
    "evaluation_items",
    "evaluation_set",
    "skip_summary",
    "fill_word",
    "gold_token",
    "to_training_texts",
]
