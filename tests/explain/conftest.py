"""Fixtures for the explanation tests: a tiny random ALBERT with a real tokenizer (seconds
to build, no network) and the embedded preset (the model people use)."""

import pytest

from explain_helpers import tiny_masked_lm


@pytest.fixture(scope="session")
def tiny_predictor():
    from albert_demo.engine import MaskPredictor
    return MaskPredictor(tiny_masked_lm(), "tiny-random")


@pytest.fixture(scope="session")
def tiny_predictor_b():
    """Same tokenizer, other weights: a second 'preset' for comparisons."""
    from albert_demo.engine import MaskPredictor
    return MaskPredictor(tiny_masked_lm(seed=1), "tiny-random-b")


@pytest.fixture(scope="session")
def embedded_predictor():
    from albert_demo import AlbertMaskedLM
    from albert_demo.engine import MaskPredictor
    from albert_demo.presets.registry import EMBEDDED_PRESET
    return MaskPredictor(AlbertMaskedLM.from_preset(EMBEDDED_PRESET), EMBEDDED_PRESET)
