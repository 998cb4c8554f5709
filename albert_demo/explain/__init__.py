"""Explanations beyond one attention map: attention rollout across layers and presets
compared side by side. Plain numpy on what the engine returns; the gradients behind token
salience live in the engine (`albert_demo.engine.salience`), the figures in `plots/`."""

from albert_demo.explain.compare import compare, parse_presets
from albert_demo.explain.rollout import attention_rollout

__all__ = ["attention_rollout", "compare", "parse_presets"]
