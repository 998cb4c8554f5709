"""How far annotators agree, what the majority says, and how the model fares against it.

The unit of agreement is one candidate word at one mask of one item: every annotator
who judged the item says accepted (1) or not (0). Percent agreement is the mean, over
units with two or more ratings, of the share of agreeing pairs; Krippendorff's alpha
(nominal) comes from the `krippendorff` package over the same units.

Pure functions over plain dicts: an item is
``{"id", "options": [[word, ...] per mask], "predictions": {preset: [[word, ...]]},
"gold": [word|None] or None, "judgments": [{"annotator", "answers"}]}`` where answers is
``[{"accepted": [word, ...], "typed": word|None} per mask]``.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np


def norm(word):
    return word.strip().lower() if isinstance(word, str) and word.strip() else None


def _accepted(answer) -> set:
    words = {norm(w) for w in answer.get("accepted", [])}
    if norm(answer.get("typed")):
        words.add(norm(answer["typed"]))
    return words - {None}


def units(item):
    """{(item id, mask, word): {annotator: 0/1}} for the item's shown candidates."""
    out = {}
    for mask, options in enumerate(item["options"]):
        for word in dict.fromkeys(norm(w) for w in options):
            out[(item["id"], mask, word)] = {
                j["annotator"]: int(word in _accepted(j["answers"][mask]))
                for j in item["judgments"]}
    return out


def majority(item, mask):
    """The word a strict majority of the item's annotators accepted (typed counts), or None."""
    n = len(item["judgments"])
    votes = Counter(w for j in item["judgments"] for w in _accepted(j["answers"][mask]))
    best = votes.most_common(2)
    if not best or best[0][1] * 2 <= n or (len(best) > 1 and best[1][1] == best[0][1]):
        return None
    return best[0][0]


def gold(item):
    """Per mask (word, source): the owner's adjudication wins, else the majority."""
    out = []
    for mask in range(len(item["options"])):
        settled = (item.get("gold") or [None] * len(item["options"]))[mask]
        if norm(settled):
            out.append((norm(settled), "adjudicated"))
        else:
            word = majority(item, mask) if item["judgments"] else None
            out.append((word, "majority" if word else None))
    return out


def disagreement(item) -> float:
    """Share of the item's units whose ratings are not unanimous (0 = all agree)."""
    rated = [set(r.values()) for r in units(item).values() if len(r) >= 2]
    return sum(len(v) > 1 for v in rated) / len(rated) if rated else 0.0


def _percent(unit_ratings) -> float | None:
    shares = []
    for ratings in unit_ratings:
        values = list(ratings.values())
        if len(values) < 2:
            continue
        pairs = list(itertools.combinations(values, 2))
        shares.append(sum(a == b for a, b in pairs) / len(pairs))
    return float(np.mean(shares)) if shares else None


def _alpha(unit_ratings) -> float | None:
    import krippendorff

    unit_ratings = [r for r in unit_ratings if len(r) >= 2]
    annotators = sorted({a for r in unit_ratings for a in r})
    if len(annotators) < 2 or not unit_ratings:
        return None
    matrix = np.full((len(annotators), len(unit_ratings)), np.nan)
    row = {a: i for i, a in enumerate(annotators)}
    for col, ratings in enumerate(unit_ratings):
        for annotator, value in ratings.items():
            matrix[row[annotator], col] = value
    if len(set(np.unique(matrix[~np.isnan(matrix)]))) < 2:
        return None  # one value everywhere: alpha is undefined (no variation to explain)
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))


def figures(items, presets) -> dict:
    """The campaign's agreement figures (JSON-ready)."""
    all_units = {}
    for item in items:
        all_units.update(units(item))
    rated = list(all_units.values())
    per_annotator = {}
    for ratings in rated:
        votes = Counter(ratings.values())
        if len(ratings) < 2 or votes[0] == votes[1]:
            continue
        decided = votes.most_common(1)[0][0]
        for annotator, value in ratings.items():
            agree, total = per_annotator.get(annotator, (0, 0))
            per_annotator[annotator] = (agree + (value == decided), total + 1)
    judged = Counter(j["annotator"] for item in items for j in item["judgments"])
    accuracy = []
    golds = [(item, gold(item)) for item in items]
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
    return {
        "items_with_two_or_more": sum(len(i["judgments"]) >= 2 for i in items),
        "units": sum(len(r) >= 2 for r in rated),
        "percent_agreement": _percent(rated),
        "krippendorff_alpha": _alpha(rated),
        "annotators": [{"annotator": a, "judgments": judged[a],
                        "agreement_with_majority": (per_annotator[a][0] / per_annotator[a][1]
                                                    if a in per_annotator else None)}
                       for a in sorted(judged)],
        "model_accuracy": accuracy,
        "gold_masks": sum(w is not None for _, g in golds for w, _ in g),
    }
