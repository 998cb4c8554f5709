"""Every /salience and /compare argument accepts any JSON value a caller can send: the
answer is a result or a user error naming the argument, never a TypeError."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from albert_demo.errors import UserError
from explain_helpers import tiny_masked_lm

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
TEXT = "the quick brown [MASK] jumped over the [MASK] dog ."
SCALAR = (st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats()
          | st.text(max_size=30) | st.sampled_from(["5", "-1", "1e309", " 1 ", "[mask]",
                                                    "integrated_gradients", "dog"]))
JSON = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)


@pytest.fixture(scope="module")
def explanations():
    from albert_demo.engine import ModelCache
    from albert_demo.services import ExplanationService, PredictionService
    from albert_demo.engine.errors import InputError

    def load(name, progress=None):  # preset names themselves are fuzzed in tests/hostile
        if name not in ("tiny0", "tiny1"):
            raise InputError(f"Unknown preset {name!r}.")
        return tiny_masked_lm(seed=int(name[-1]))
    return ExplanationService(PredictionService(ModelCache(loader=load),
                                                default_preset="tiny0"))


GXI = "gradient_x_input"  # the cheap program: many examples stay fast
CALLS = {
    "text": lambda e, v: e.salience(v, "tiny0", 0, "", GXI),
    "preset": lambda e, v: e.salience(TEXT, v, 0, "", GXI),
    "mask_ordinal": lambda e, v: e.salience(TEXT, "tiny0", v, "", GXI),
    "token": lambda e, v: e.salience(TEXT, "tiny0", 0, v, GXI),
    "method": lambda e, v: e.salience(TEXT, "tiny0", 0, "dog", v),
    "presets": lambda e, v: e.compare(TEXT, v, 3),
    "top_k": lambda e, v: e.compare(TEXT, "tiny0, tiny1", v),
}


@pytest.mark.parametrize("argument", list(CALLS))
@SETTINGS
@given(value=JSON)
def test_any_json_value(explanations, argument, value):
    try:
        result = CALLS[argument](explanations, value)
    except UserError as error:
        assert str(error) and "Traceback" not in str(error)
    else:
        assert isinstance(result, dict)
