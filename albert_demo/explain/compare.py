"""Presets side by side on one text: top-k per mask, rank changes, top-k overlap, and
KL / Jensen-Shannon divergences between the full distributions at every mask.

Divergences need both distributions over the same vocabulary: they are computed only when
the presets' vocabularies are identical (same pieces, same order) and are `None` with a note
otherwise. Overlap and ranks compare pieces by their text, so they work across vocabularies.
All divergences are in nats.
"""

from itertools import combinations

import numpy as np

from albert_demo.engine.errors import InputError

MAX_PRESETS = 3


def parse_presets(presets, max_presets=MAX_PRESETS):
    """'a, b' or ['a', 'b'] -> ['a', 'b'] (order kept, repeats dropped); 2..max names."""
    if isinstance(presets, str):
        presets = presets.split(",")
    if not isinstance(presets, (list, tuple)) or not all(isinstance(p, str) for p in presets):
        raise InputError("presets must be preset names, comma-separated or as a list.")
    names = list(dict.fromkeys(p.strip() for p in presets if p.strip()))
    if not 2 <= len(names) <= max_presets:
        raise InputError(f"Compare needs 2 to {max_presets} different presets; got "
                         f"{len(names)}.")
    return names


def kl_divergence(p, q):
    """KL(p || q) in nats for probability vectors (terms with p = 0 count 0)."""
    p = np.asarray(p, "float64")
    q = np.maximum(np.asarray(q, "float64"), np.finfo("float64").tiny)
    nonzero = p > 0
    return float(np.sum(p[nonzero] * (np.log(p[nonzero]) - np.log(q[nonzero]))))


def js_divergence(p, q):
    """Jensen-Shannon divergence in nats (0 .. ln 2), symmetric."""
    m = (np.asarray(p, "float64") + np.asarray(q, "float64")) / 2
    return 0.5 * kl_divergence(p, m) + 0.5 * kl_divergence(q, m)


def rank_of(probs, token_id):
    """1-based rank of a token in a full distribution (ties share the better rank)."""
    return int(np.sum(probs > probs[token_id])) + 1


def _vocabulary(predictor):
    return predictor.tokenizer.get_vocabulary()


def compare(text, predictors, top_k=5):
    """predictors: ordered {name: MaskPredictor}; the first is the reference for rank
    changes. Returns the /compare JSON."""
    names = list(predictors)
    if len(names) < 2:
        raise InputError("Compare needs at least two presets.")
    top_k = predictors[names[0]]._check_top_k(top_k)
    runs = {name: predictors[name].distributions(text) for name in names}
    counts = {name: len(run["mask_indices"]) for name, run in runs.items()}
    if len(set(counts.values())) != 1:
        raise InputError(f"The presets read a different number of [MASK] tokens in this "
                         f"text ({counts}); use text every tokenizer splits alike.")
    vocabularies = {name: _vocabulary(predictors[name]) for name in names}
    same_vocabulary = all(vocabularies[n] == vocabularies[names[0]] for n in names[1:])
    piece_ids = {name: {piece: i for i, piece in enumerate(vocab)}
                 for name, vocab in vocabularies.items()}
    reference = names[0]

    def rank_in(name, piece, m):
        token_id = piece_ids[name].get(piece)
        return None if token_id is None else rank_of(runs[name]["probs"][m], token_id)

    masks = []
    for m in range(counts[reference]):
        predictions, tops = {}, {}
        for name in names:
            probs = runs[name]["probs"][m]
            ids = np.argsort(-probs, kind="stable")[:top_k]
            tops[name] = [vocabularies[name][i] for i in ids]
            rows = []
            for rank, (i, piece) in enumerate(zip(ids, tops[name]), 1):
                row = {"token": predictors[name].tokenizer.token_text(int(i)),
                       "token_id": int(i), "score": float(probs[i]), "rank": rank}
                if name != reference:
                    before = rank_in(reference, piece, m)
                    row["rank_in_reference"] = before
                    row["rank_change"] = None if before is None else before - rank
                rows.append(row)
            predictions[name] = rows
        pairs = []
        for a, b in combinations(names, 2):
            shared = set(tops[a]) & set(tops[b])
            pair = {"a": a, "b": b, "overlap_at_k": len(shared) / top_k,
                    "jaccard": len(shared) / len(set(tops[a]) | set(tops[b]))}
            if same_vocabulary:
                p, q = runs[a]["probs"][m], runs[b]["probs"][m]
                pair.update(kl_ab=kl_divergence(p, q), kl_ba=kl_divergence(q, p),
                            js=js_divergence(p, q))
            else:
                pair.update(kl_ab=None, kl_ba=None, js=None)
            pairs.append(pair)
        masks.append({"ordinal": m,
                      "index": {name: runs[name]["mask_indices"][m] for name in names},
                      "predictions": predictions, "pairs": pairs})
    result = {"text": text, "presets": names, "reference": reference, "top_k": top_k,
              "same_vocabulary": same_vocabulary, "units": "nats", "masks": masks}
    if not same_vocabulary:
        result["note"] = ("The presets have different vocabularies: KL and Jensen-Shannon "
                          "are not computed (their distributions are over different "
                          "pieces); overlap and ranks compare pieces by text.")
    return result
