"""to_training_texts / evaluation_items (pure functions, no database)."""

from albert_demo.annotations import evaluation_items, fill_word, gold_token, to_training_texts

P = [{"token": "\u2581city", "token_id": 2, "score": 0.2},
     {"token": "\u2581capital", "token_id": 1, "score": 0.7}]


def row(text, ordinal=0, verdict=None, correct=None, preds=P):
    return {"text": text, "mask_ordinal": ordinal, "verdict": verdict,
            "correct_token": correct, "predictions": preds}


def test_gold_token_rules():
    assert fill_word("\u2581capital") == "capital"
    assert gold_token(row("a [MASK]", verdict="right")) == "capital"  # top score, not first
    assert gold_token(row("a [MASK]", verdict="wrong", correct="town")) == "town"
    assert gold_token(row("a [MASK]", verdict="right", correct="\u2581seat")) == "seat"
    assert gold_token(row("a [MASK]", verdict="wrong")) is None
    assert gold_token(row("a [MASK]")) is None
    assert gold_token(row("a [MASK]", verdict="right", preds=[])) is None


def test_training_texts_and_evaluation_items():
    rows = [
        row("Paris is the [MASK] of France.", verdict="right"),
        row("Paris is the [MASK] of France.", verdict="right"),  # duplicate
        row("I ate [MASK] for [MASK].", 0, verdict="wrong", correct="eggs"),
        row("I ate [MASK] for [MASK].", 1, correct="breakfast"),
        row("Only one of [MASK] [MASK] judged.", 0, correct="two"),
        row("Unjudged [MASK].", verdict=None),
        row("Wrong without fix [MASK].", verdict="wrong"),
        {"text": "🙂 مرحبا [MASK]!", "mask_ordinal": 0, "verdict": None,
         "correct_token": "بالعالم", "predictions": []},
    ]
    assert to_training_texts(rows) == [
        "Paris is the capital of France.",
        "I ate eggs for breakfast.",
        "🙂 مرحبا بالعالم!",
    ]
    assert evaluation_items(rows) == [
        ("Paris is the [MASK] of France.", "capital"),
        ("I ate [MASK] for breakfast.", "eggs"),
        ("I ate eggs for [MASK].", "breakfast"),
        ("🙂 مرحبا [MASK]!", "بالعالم"),
    ]
