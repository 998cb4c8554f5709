"""Bounds on one request (`ALBERT_DEMO_MAX_CHARS`, `_MAX_MASKS`, `_MAX_TOP_K`)."""

from dataclasses import dataclass

from albert_demo import settings


@dataclass(frozen=True)
class Limits:
    max_chars: int = 2000
    max_masks: int = 20
    max_top_k: int = 50
    max_candidates: int = 20

    @classmethod
    def from_settings(cls):
        """The bounds in force (read from the environment once, see settings.py)."""
        s = settings.current()
        return cls(max_chars=s.max_chars, max_masks=s.max_masks, max_top_k=s.max_top_k)
