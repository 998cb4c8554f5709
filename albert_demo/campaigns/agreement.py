"""How far annotators agree, what the majority says, and how the model fares against it.

The unit of agreement is one [MASK] of one item. Each annotator who judged the item gives
that unit one value: the set of words they picked there (ticked candidates plus a typed
word; "none of these fit" is the empty set). Two annotators agree on a unit when they
picked the same word(s).

- Percent agreement: over units with two or more values, the mean share of agreeing pairs.
- Krippendorff's alpha (nominal, from the `krippendorff` package): the same units; the
  values are the distinct word sets, each coded as one category.
- Agreement with the majority, per annotator: over the units where the *other* annotators
  have a majority (more than half of them picked the same set), the share where this
  annotator picked it too. Their own vote never counts.
- Gold per mask: the owner's word where they settled it; else the word that more than half
  of the item's annotators picked, once at least two have judged it; else unsettled (None).

Pure functions over plain dicts: an item is
``{"id", "options": [[word, ...] per mask], "predictions": {preset: [[word, ...]]},
"gold": [word|None] or None, "gold_source": [source|None] or None,
"judgments": [{"annotator", "answers"}]}`` where answers is
``[{"accepted": [word, ...], "typed": word|None, "none_fit": bool} per mask]``.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np

UNIT = "one [MASK] of one item"
CODING = ("value: the set of words an annotator picked at that mask (ticked or typed; "
          "'none of these fit' is the empty set), one nominal category per distinct set")


def norm(word):
    return word.strip().lower() if isinstance(word, str) and word.strip() else None


def picked(answer) -> frozenset:
    """The words an answer picked at one mask (ticked candidates and the typed word)."""
    words = {norm(w) for w in answer.get("accepted", [])}
    words.add(norm(answer.get("typed")))
    return frozenset(words - {None})


def units(item) -> dict:
    """{(item id, mask): {annotator: word set}}."""
    return {(item["id"], mask): {j["annotator"]: picked(j["answers"][mask])
                                 for j in item["judgments"]}
            for mask in range(len(item["options"]))}


def pair_agreement(values) -> float | None:
    """Share of pairs of values that are equal; None with fewer than two."""
    pairs = list(itertools.combinations(values, 2))
    return sum(a == b for a, b in pairs) / len(pairs) if pairs else None


def item_agreement(item) -> float | None:
    """Mean pair agreement over the item's masks; None with fewer than two judgments."""
    shares = [pair_agreement(list(v.values())) for v in units(item).values()]
    shares = [s for s in shares if s is not None]
    return float(np.mean(shares)) if shares else None


def votes(item, mask) -> dict:
    """{word: how many annotators picked it} at one mask, most picked first."""
    counted = Counter(w for j in item["judgments"] for w in picked(j["answers"][mask]))
    return dict(sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])))


def majority(item, mask):
    """The word more than half of the item's annotators picked (at least two judged)."""
    n = len(item["judgments"])
    if n < 2:
        return None
    best = Counter(votes(item, mask)).most_common(2)
    if not best or best[0][1] * 2 <= n or (len(best) > 1 and best[1][1] == best[0][1]):
        return None
    return best[0][0]


def gold(item):
    """Per mask (word, source): "adjudicated" (the owner settled it on an annotator's
    word), "owner" (the owner's own word, confirmed), "majority", or (None, "unsettled")."""
    n = len(item["options"])
    settled = item.get("gold") or [None] * n
    sources = item.get("gold_source") or [None] * n
    out = []
    for mask in range(n):
        if norm(settled[mask]):
            out.append((norm(settled[mask]), sources[mask] or "adjudicated"))
        else:
            word = majority(item, mask)
            out.append((word, "majority") if word else (None, "unsettled"))
    return out


def _others_majority(ratings, annotator):
    others = [v for a, v in ratings.items() if a != annotator]
    if not others:
        return None
    value, count = Counter(others).most_common(1)[0]
    return value if count * 2 > len(others) else None


def _alpha(unit_ratings) -> float | None:
    import krippendorff

    unit_ratings = [r for r in unit_ratings if len(r) >= 2]
    annotators = sorted({a for r in unit_ratings for a in r})
    codes = {}
    for ratings in unit_ratings:
        for value in ratings.values():
            codes.setdefault(value, len(codes))
    if len(annotators) < 2 or len(codes) < 2:
        return None  # one value everywhere: alpha is undefined (no variation to explain)
    matrix = np.full((len(annotators), len(unit_ratings)), np.nan)
    row = {a: i for i, a in enumerate(annotators)}
    for col, ratings in enumerate(unit_ratings):
        for annotator, value in ratings.items():
            matrix[row[annotator], col] = codes[value]
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))


def figures(items, presets) -> dict:
    """The campaign's agreement figures (JSON-ready)."""
    rated = [r for item in items for r in units(item).values() if len(r) >= 2]
    with_majority: dict[str, list[bool]] = {}
    for ratings in rated:
        for annotator, value in ratings.items():
            decided = _others_majority(ratings, annotator)
            if decided is not None:
                with_majority.setdefault(annotator, []).append(value == decided)
    judged = Counter(j["annotator"] for item in items for j in item["judgments"])
    golds = [(item, gold(item)) for item in items]
    accuracy = []
    for preset in presets:
        hits = total = 0
        for item, item_gold in golds:
            for mask, (word, _) in enumerate(item_gold):
                if word is None:
                    continue
                guesses = item["predictions"].get(preset, [[]] * (mask + 1))[mask]
                total += 1
                hits += bool(guesses) and norm(guesses[0]) == word
        accuracy.append({"preset": preset, "gold_masks": total,
                         "top1_accuracy": hits / total if total else None})
    shares = [pair_agreement(list(r.values())) for r in rated]
    return {
        "unit": UNIT, "coding": CODING,
        "items_with_two_or_more": sum(len(i["judgments"]) >= 2 for i in items),
        "units": len(rated),
        "percent_agreement": float(np.mean(shares)) if shares else None,
        "krippendorff_alpha": _alpha(rated),
        "annotators": [{"annotator": a, "judgments": judged[a],
                        "units_with_a_majority_of_others": len(with_majority.get(a, [])),
                        "agreement_with_majority": (float(np.mean(with_majority[a]))
                                                    if with_majority.get(a) else None)}
                       for a in sorted(judged)],
        "model_accuracy": accuracy,
        "gold_masks": sum(w is not None for _, g in golds for w, _ in g),
        "unsettled_masks": sum(w is None for _, g in golds for w, _ in g),
    }
