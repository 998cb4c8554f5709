"""Bounds on a request, configurable through the environment for public servers."""

import os
from dataclasses import dataclass


def _env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class Limits:
    max_chars: int = 2000
    max_masks: int = 20
    max_top_k: int = 50
    max_candidates: int = 20

    @classmethod
    def from_env(cls):
        return cls(max_chars=_env_int("ALBERT_DEMO_MAX_CHARS", 2000),
                   max_masks=_env_int("ALBERT_DEMO_MAX_MASKS", 20),
                   max_top_k=_env_int("ALBERT_DEMO_MAX_TOP_K", 50))
