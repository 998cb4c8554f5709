"""Making masks for sentences that have none: random words, words from a list, or the
words the model is least sure about (uncertainty ordering).

Each strategy returns the masked text and the original words, kept as the reference.
"""

from __future__ import annotations

import random
import re

from albert_demo.campaigns.errors import CampaignError
from albert_demo.masks import MASK

STRATEGIES = ("random", "words", "least_sure")
DEFAULT = "least_sure"  # plain sentences work with the defaults: one per sentence
NONE = "none"  # every sentence brings its own [MASK]
# What the page's dropdown shows for each strategy; messages use these words, not the ids.
LABELS = {DEFAULT: "words the model is least sure about", "random": "random words",
          "words": "words from a list", NONE: "none (sentences have [MASK])"}


def strategy_id(value) -> str:
    """The strategy for an id or a page label; empty means the default."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT
    by_label = {label: key for key, label in LABELS.items()}
    value = str(value).strip()
    if value in LABELS:
        return value
    if value in by_label:
        return by_label[value]
    raise CampaignError(f"Unknown mask strategy {value!r}: choose one of "
                        + "; ".join(f"'{label}'" for label in LABELS.values()) + ".")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
MAX_CANDIDATES = 40  # words scored per sentence by "least_sure"


def words(text: str) -> list[re.Match]:
    """The maskable words of a sentence: letters (an inner apostrophe allowed)."""
    return [m for m in _WORD.finditer(text) if len(m.group()) > 1]


def apply(text: str, chosen: list[re.Match]) -> tuple[str, list[str]]:
    chosen = sorted(chosen, key=lambda m: m.start())
    out, last = [], 0
    for m in chosen:
        out += [text[last:m.start()], MASK]
        last = m.end()
    return "".join(out) + text[last:], [m.group() for m in chosen]


def _single_piece(predictor):
    tokenizer = getattr(predictor, "tokenizer", None)
    if tokenizer is None:
        return lambda word: True
    return lambda word: len(tokenizer(word)) == 1


def make_masks(texts: list[str], strategy: str, per_sentence: int = 1, word_list=(),
               predictor=None, seed: int = 0) -> list[tuple[str, list[str]] | None]:
    """(masked text, originals) per text; None where the strategy found nothing to mask.

    Words the model's tokenizer splits into several pieces are never masked (one [MASK]
    predicts one piece)."""
    strategy = strategy_id(strategy)
    if strategy not in STRATEGIES:
        raise CampaignError(f"Masks for sentences without {MASK}: choose one of "
                            + "; ".join(f"'{LABELS[s]}'" for s in STRATEGIES) + ".")
    if not 1 <= per_sentence <= 5:
        raise CampaignError("Masks per sentence must be between 1 and 5.")
    fits = _single_piece(predictor)
    rng = random.Random(seed)
    candidates = [[m for m in words(t) if fits(m.group())] for t in texts]
    if strategy == "words":
        wanted = {w.strip().lower() for w in word_list if w.strip()}
        if not wanted:
            raise CampaignError(f"'{LABELS['words']}' needs a list of words to mask.")
        candidates = [[m for m in c if m.group().lower() in wanted] for c in candidates]
    if strategy == "least_sure":
        if predictor is None:
            raise CampaignError(f"'{LABELS['least_sure']}' needs a model preset.")
        chosen = [_least_sure(t, c[:MAX_CANDIDATES], per_sentence, predictor)
                  for t, c in zip(texts, candidates)]
    else:
        chosen = [rng.sample(c, min(per_sentence, len(c))) for c in candidates]
    return [apply(t, c) if c else None for t, c in zip(texts, chosen)]


def confidence(predictor, masked_texts: list[str], originals: list[str]) -> list[tuple]:
    """(probability of the original word, probability of the top guess) per masked text;
    the original's probability is 0 when it is not among the model's top 50."""
    top_k = min(50, getattr(getattr(predictor, "limits", None), "max_top_k", 50))
    results = predictor.predict_batch(masked_texts, top_k)
    out = []
    for result, original in zip(results, originals):
        preds = result["masks"][0]["predictions"]
        p_orig = next((p["score"] for p in preds
                       if p["token"].lower() == original.lower()), 0.0)
        out.append((p_orig, preds[0]["score"] if preds else 0.0))
    return out


def _least_sure(text, candidates, n, predictor):
    if not candidates:
        return []
    variants = [apply(text, [m])[0] for m in candidates]
    scores = confidence(predictor, variants, [m.group() for m in candidates])
    ranked = sorted(range(len(candidates)), key=lambda i: scores[i])
    return [candidates[i] for i in ranked[:n]]
