"""Masked-token evaluation on held-out text, next to a unigram-frequency baseline.

Masks are chosen by the project's preprocessor with a fixed seed and always replaced by
`[MASK]`, so two models (or a model and the baseline) are scored on the same masks.
"""

import numpy as np


def unigram_counts(token_arrays, vocabulary_size):
    counts = np.zeros(vocabulary_size, dtype="int64")
    for ids in token_arrays:
        counts += np.bincount(np.asarray(ids, dtype="int64"), minlength=vocabulary_size)
    return counts


def fixed_masks(preprocessor, texts, seed=0):
    """The preprocessor's masking, made deterministic and all-[MASK]."""
    from albert_demo.models.albert_masked_lm_preprocessor import AlbertMaskedLMPreprocessor
    pre = AlbertMaskedLMPreprocessor(
        preprocessor.tokenizer, sequence_length=preprocessor.sequence_length,
        mask_selection_rate=preprocessor.mask_selection_rate,
        mask_selection_length=preprocessor.mask_selection_length,
        mask_token_rate=1.0, random_token_rate=0.0, seed=seed)
    return pre(list(texts))


def masked_token_eval(masked_lm, texts, counts=None, sequence_length=128, seed=0,
                      batch_size=32, special_ids=()):
    """-> dict(loss, top1, top5, masks, and baseline_* when `counts` is given)."""
    pre = masked_lm.preprocessor
    from albert_demo.models.albert_masked_lm_preprocessor import AlbertMaskedLMPreprocessor
    pre = AlbertMaskedLMPreprocessor(pre.tokenizer, sequence_length=sequence_length,
                                     mask_selection_length=max(1, sequence_length * 15 // 100
                                                               + 1))
    x, y, w = fixed_masks(pre, texts, seed)
    losses, top1, top5, n = 0.0, 0, 0, 0
    import jax
    forward = jax.jit(lambda tv, ntv, batch: masked_lm.stateless_call(tv, ntv, batch)[0])
    tv = [v.value for v in masked_lm.trainable_variables]
    ntv = [v.value for v in masked_lm.non_trainable_variables]
    total = len(y)
    for start in range(0, total, batch_size):
        stop = min(total, start + batch_size)
        batch = {k: v[start:stop] for k, v in x.items()}
        pad = batch_size - (stop - start)  # keep one compiled shape
        if pad:
            batch = {k: np.concatenate([v, np.repeat(v[-1:], pad, 0)]) for k, v in
                     batch.items()}
        logits = np.asarray(forward(tv, ntv, batch))[:stop - start].astype("float64")
        gold, weight = y[start:stop], w[start:stop] > 0
        logits -= logits.max(-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        gold_logp = np.take_along_axis(logp, gold[..., None], -1)[..., 0]
        ranks = (logp > gold_logp[..., None]).sum(-1)
        losses += -gold_logp[weight].sum()
        top1 += int((ranks[weight] < 1).sum())
        top5 += int((ranks[weight] < 5).sum())
        n += int(weight.sum())
    result = {"masks": n, "loss": losses / max(n, 1), "top1": top1 / max(n, 1),
              "top5": top5 / max(n, 1)}
    if counts is not None:
        counts = np.asarray(counts, dtype="float64").copy()
        counts[list(special_ids)] = 0
        prob = (counts + 1) / (counts + 1).sum()  # add-one smoothing
        gold = y[w > 0]
        order = np.argsort(-prob)
        result.update(baseline_loss=float(-np.log(prob[gold]).mean()),
                      baseline_top1=float(np.isin(gold, order[:1]).mean()),
                      baseline_top5=float(np.isin(gold, order[:5]).mean()))
    return result
