"""Inference engine: compiled forward passes per shape bucket, text-level predictions,
and a memory-bounded cache of loaded presets."""

from albert_demo.engine.compiled import CompiledMaskedLM, configure_compilation_cache
from albert_demo.engine.errors import InputError
from albert_demo.engine.limits import Limits
from albert_demo.engine.model_cache import ModelCache
from albert_demo.engine.predictor import MaskPredictor

__all__ = ["CompiledMaskedLM", "InputError", "Limits", "MaskPredictor", "ModelCache",
           "configure_compilation_cache"]
