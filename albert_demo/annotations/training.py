"""Turn annotations into fine-tuning texts and evaluation items."""

from __future__ import annotations

from typing import Any, Iterable

from albert_demo.masks import MASK, fill_masks, surface_word


def _get(row: Any, key: str):
    return row[key] if isinstance(row, dict) else getattr(row, key)


def fill_word(token: str | None) -> str | None:
    """Surface form of a token: strips the SentencePiece "▁" marker."""
    if token is None:
        return None
    return surface_word(token) or None


def gold_token(row: Any) -> str | None:
    """The word that belongs at the row's mask: ``correct_token`` if given,
    else the top-scoring prediction when ``verdict == "right"``, else None."""
    correct = _get(row, "correct_token")
    if correct:
        return fill_word(correct)
    if _get(row, "verdict") == "right":
        preds = _get(row, "predictions") or []
        if preds:
            best = max(preds, key=lambda p: p["score"])  # first wins ties
            return fill_word(best["token"])
    return None


def _golds_by_text(rows: list) -> dict[str, dict[int, str]]:
    golds: dict[str, dict[int, str]] = {}
    for r in rows:
        g = gold_token(r)
        if g is not None:
            golds.setdefault(_get(r, "text"), {})[_get(r, "mask_ordinal")] = g
    return golds


def _fill(text: str, fills: dict[int, str], keep: int | None = None) -> str | None:
    """Every [MASK] but `keep` filled from `fills`; None when one has no gold word."""
    words = []
    for i in range(text.count(MASK)):
        if i != keep and i not in fills:
            return None
        words.append(MASK if i == keep else fills[i])
    return fill_masks(text, words)


def to_training_texts(rows: Iterable[Any]) -> list[str]:
    """Sentences with masks filled by their gold words, for fine-tuning.

    Rows sharing the same text (one per mask) are combined; a text is only
    produced once every ``[MASK]`` in it has a gold word (a literal ``[MASK]``
    left in training text would be noise).  Order of first appearance,
    duplicates removed.
    """
    rows = list(rows)
    golds = _golds_by_text(rows)
    seen: set[str] = set()
    out = []
    for r in rows:
        text = _get(r, "text")
        if gold_token(r) is None:
            continue
        filled = _fill(text, golds[text])
        if filled is not None and filled not in seen:
            seen.add(filled)
            out.append(filled)
    return out


# Why a row gives no evaluation item, worded for a person ("2 rows ...").
SKIP_REASONS = {
    "wrong_without_word": "marked wrong without a correction",
    "not_judged": "neither judged nor given a right word",
    "right_without_predictions": "marked right, but saved without the model's guesses",
    "other_mask_open": "another [MASK] in the same text has no right word",
    "repeated": "repeat another row (same text and right word)",
}


def _no_gold_reason(row: Any) -> str:
    verdict = _get(row, "verdict")
    if verdict == "wrong":
        return "wrong_without_word"
    if verdict == "right":
        return "right_without_predictions"
    return "not_judged"


def evaluation_set(rows: Iterable[Any]) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """``(items, skipped)``: the ``(text_with_single_mask, gold_word)`` pairs for scoring
    presets, and how many rows gave no item, by reason (keys of `SKIP_REASONS`).

    The row's own mask stays ``[MASK]``; the text's other masks are filled
    with their gold words from sibling rows, and rows whose other masks have
    no gold are skipped.  Gold words have the "▁" marker removed; compare
    against ``fill_word(predicted_token)``.
    """
    rows = list(rows)
    golds = _golds_by_text(rows)
    seen: set[tuple[str, str]] = set()
    out = []
    skipped: dict[str, int] = {}
    for r in rows:
        g = gold_token(r)
        if g is None:
            reason = _no_gold_reason(r)
        else:
            text = _get(r, "text")
            item = _fill(text, golds[text], keep=_get(r, "mask_ordinal"))
            if item is None:
                reason = "other_mask_open"
            elif (item, g) in seen:
                reason = "repeated"
            else:
                seen.add((item, g))
                out.append((item, g))
                continue
        skipped[reason] = skipped.get(reason, 0) + 1
    return out, skipped


def evaluation_items(rows: Iterable[Any]) -> list[tuple[str, str]]:
    """The items of `evaluation_set`, without the reasons for skipped rows."""
    return evaluation_set(rows)[0]


def _rows(n: int) -> str:
    return f"{n} row" + ("" if n == 1 else "s")


def skip_summary(skipped: dict[str, int]) -> str:
    """"2 rows have no right word (marked wrong without a correction); 1 row ..." ("" when
    nothing was skipped)."""
    no_word = {k: skipped[k] for k in ("wrong_without_word", "not_judged",
                                        "right_without_predictions") if skipped.get(k)}
    parts = []
    if no_word:
        total = sum(no_word.values())
        why = ", ".join(SKIP_REASONS[k] if len(no_word) == 1 else
                        f"{n} {SKIP_REASONS[k]}" for k, n in no_word.items())
        parts.append(f"{_rows(total)} {'has' if total == 1 else 'have'} no right word ({why})")
    if skipped.get("other_mask_open"):
        n = skipped["other_mask_open"]
        parts.append(f"{_rows(n)}: {SKIP_REASONS['other_mask_open']}")
    if skipped.get("repeated"):
        n = skipped["repeated"]
        parts.append(f"{_rows(n)} {'repeats' if n == 1 else 'repeat'} another row "
                     "(same text and right word)")
    return "; ".join(parts)
