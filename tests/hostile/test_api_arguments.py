"""Every API argument accepts any JSON value a caller can send: the answer is a result or
a user error whose message names the argument, never a TypeError or an OverflowError."""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from albert_demo.annotations import AnnotationStore
from albert_demo.engine import ModelCache
from albert_demo.finetune import FinetuneDataError, FinetuneSettings
from albert_demo.errors import UserError
from tests.harness.services import build_services

SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
TEXT = "The sky is [MASK] and the sea is [MASK]."
TINY = "albert_tiny_en_uncased"
SCALAR = (st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats()
          | st.text(max_size=30) | st.sampled_from(["5", "-1", "1e309", " 3 ", "[MASK]"]))
JSON = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)


@pytest.fixture(scope="module")
def handlers(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    return build_services(ModelCache(), AnnotationStore.from_env(data), data_dir=data)


CALLS = {
    "preset": lambda h, v: h.predictions.predict(TEXT, v, 3),
    "top_k": lambda h, v: h.predictions.predict(TEXT, TINY, v),
    "text": lambda h, v: h.predictions.predict(v, TINY, 3),
    "joint top_k": lambda h, v: h.predictions.predict_joint(TEXT, TINY, v),
    "candidates": lambda h, v: h.predictions.score_candidates(TEXT, TINY, v),
    "layer": lambda h, v: h.predictions.attention(TEXT, TINY, v, 0),
    "head": lambda h, v: h.predictions.attention(TEXT, TINY, 0, v),
    "session": lambda h, v: h.annotations.annotate(v, TINY, TEXT, 0, "right"),
    "mask_ordinal": lambda h, v: h.annotations.annotate("s1", TINY, TEXT, v, "right"),
    "verdict": lambda h, v: h.annotations.annotate("s1", TINY, TEXT, 0, v),
    "correct_token": lambda h, v: h.annotations.annotate("s1", TINY, TEXT, 0, "wrong", v),
    "note": lambda h, v: h.annotations.annotate("s1", TINY, TEXT, 0, "right", None, None, v),
    "search query": lambda h, v: h.annotations.search("s1", v),
    "verdict filter": lambda h, v: h.annotations.search("s1", None, None, None, v),
    "annotation id": lambda h, v: h.annotations.delete("s1", v),
}


@pytest.mark.parametrize("argument", sorted(CALLS))
@SETTINGS
@given(value=JSON)
@example(value=9.223372036854776e18)  # past SQLite's 64-bit ids (found by CI's run)
@example(value=-(2**70))
def test_handler_arguments_of_any_json_type(handlers, argument, value):
    try:
        CALLS[argument](handlers, value)
    except UserError as error:
        assert str(error)


@pytest.mark.parametrize("field", ["name", "steps", "epochs", "learning_rate", "batch_size",
                                   "sequence_length", "mask_rate", "validation_share", "seed",
                                   "checkpoint_every", "probes"])
@settings(max_examples=60, deadline=None)
@given(value=JSON)
def test_finetune_settings_of_any_json_type(field, value):
    try:
        checked = FinetuneSettings(**{field: value}).checked()
    except FinetuneDataError as error:
        assert str(error)
    else:  # what passed is of the right type from here on
        assert isinstance(checked.batch_size, int) and isinstance(checked.learning_rate, float)
