"""Arbitrary and hostile text through the tokenizer, the preprocessor and the predictor.

Every input either gives a well-formed answer or an InputError with a message; nothing
else escapes, and nothing is rendered or changed.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from albert_demo import AlbertMaskedLM
from albert_demo.engine import InputError, MaskPredictor

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
# Any code point, lone surrogates included, sometimes with [MASK] inserted.
TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=()), max_size=200)
MASKED = st.tuples(TEXT, TEXT).map(lambda ab: f"{ab[0]} [MASK] {ab[1]}")


@pytest.fixture(scope="module")
def predictor():
    return MaskPredictor(AlbertMaskedLM.from_preset("albert_tiny_en_uncased"), "tiny")


@SETTINGS
@given(text=TEXT)
def test_tokenizer_never_crashes(predictor, text):
    tok = predictor.tokenizer
    ids = tok(text)
    assert ids.dtype == np.int32
    assert ((ids >= 0) & (ids < tok.vocabulary_size())).all()
    assert isinstance(tok.detokenize(ids), str)


@SETTINGS
@given(texts=st.lists(TEXT, min_size=1, max_size=4))
def test_preprocessor_shapes_and_masks(predictor, texts):
    from albert_demo import AlbertMaskedLMPreprocessor
    pre = AlbertMaskedLMPreprocessor(predictor.tokenizer, sequence_length=24, seed=0)
    x, y, w = pre(texts)
    assert x["token_ids"].shape == (len(texts), 24)
    assert x["mask_positions"].shape == y.shape == w.shape == (len(texts), 96)
    special = set(predictor.tokenizer.special_token_ids)
    for row in range(len(texts)):
        for pos, label, weight in zip(x["mask_positions"][row], y[row], w[row]):
            if weight:
                assert int(label) not in special


@SETTINGS
@given(text=st.one_of(TEXT, MASKED))
def test_predict_answers_or_explains(predictor, text):
    try:
        result = predictor.predict(text, top_k=3)
    except InputError as error:
        assert str(error)
        return
    assert result["masks"], "a successful answer has one entry per [MASK]"
    for mask in result["masks"]:
        scores = [p["score"] for p in mask["predictions"]]
        assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("   \n ", "empty"),
    ("no mask here", "No [MASK]"),
    ("[MASK] " * 10_000, "characters"),
    ("word " * 200_000 + "[MASK]", "characters"),
    ("nul \x00 [MASK]", "control"),
    ("bell \x07 [MASK]", "control"),
    ("lone \ud800 surrogate [MASK]", "invalid"),
])
def test_bad_text_gets_a_clear_message(predictor, text, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        predictor.predict(text)


def test_too_many_masks_and_too_long(predictor, monkeypatch):
    with pytest.raises(InputError, match="at most 20 are allowed"):
        predictor.predict("a [MASK] " * 21)
    long_text = "word " * 390 + "[MASK]"  # under the character limit, over 512 tokens
    from albert_demo.engine import Limits
    wide = MaskPredictor.__new__(MaskPredictor)
    wide.__dict__.update(predictor.__dict__, limits=Limits(max_chars=100_000))
    with pytest.raises(InputError, match="reads at most 510"):
        wide.predict("x y z " * 300 + long_text)


@pytest.mark.parametrize("text", [
    "<script>alert('x')</script> the [MASK] is here",
    "<b>bold</b> & the [MASK]",
    "emoji 😀🎉 the [MASK] is happy",
    "مرحبا بالعالم the [MASK] שלום",
])
def test_odd_text_is_answered_verbatim(predictor, text):
    result = predictor.predict(text, top_k=2)
    filled = result["filled_text"]
    word = result["masks"][0]["predictions"][0]["token"]
    assert filled == text.replace("[MASK]", word)
