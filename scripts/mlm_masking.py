"""Masked-LM mask selection for pretraining: token, whole-word and n-gram (ALBERT) masking.

All three keep the v1 contract of `AlbertMaskedLMPreprocessor.mask` (same outputs, same
budget, same 80/10/10 replacement), so scripts/pretrain.py can switch between them:

* ``token``  - v1: each selectable piece is chosen independently (the preprocessor's own
  `mask`, called unchanged).
* ``word``   - whole-word masking: a chosen word is masked with all its pieces.
* ``ngram``  - ALBERT's n-gram masking (Lan et al. 2019, sec. 4.1; google-research/albert
  create_pretraining_data.py): spans of n = 1..3 consecutive *words*, n drawn with
  p(n) = (1/n) / sum_k (1/k)  (6/11, 3/11, 2/11 for max_ngram=3).
* ``mixed``  - each row of a batch is masked by ``ngram`` or by ``token`` with even odds:
  the held-out metric masks single pieces (a word's other pieces visible), which a model
  trained on whole words only never sees; mixed training sees both.

Words. A word is a piece that starts a word plus the continuation pieces after it. As in
ALBERT's `_is_start_piece_sp`, a piece starts a word when it begins with "▁" (U+2581), or
is a lone punctuation piece, or holds a character outside a-z and punctuation (digits,
which the vocabulary splits one per piece, and foreign letters): "homework." ->
[▁home, work] [.] is two words. The first selectable piece after a special token also
starts a word (training windows can begin mid-word).

Budget. Per row, ``rint(selectable * rate)`` pieces (at least one; at most
``mask_selection_length`` slots), exactly as v1. Word and span masking never go over it:
a span that would is shortened by words (ALBERT), and a word longer than what is left is
skipped, so a row can end a piece or two short of the budget.
"""

import numpy as np

PUNCTUATION = set('!"#$%&\'()*+,-./:;?@[\\]^_`{|}~') | {"€", "£"}
ENGLISH = set("abcdefghijklmnopqrstuvwxyz")
MODES = ("token", "word", "ngram", "mixed")


def is_word_start_piece(piece):
    """ALBERT's rule (see module docstring) for one SentencePiece piece."""
    if piece.startswith("▁") or piece.startswith("<") or piece in PUNCTUATION:
        return True
    return not all(c.lower() in ENGLISH or c in PUNCTUATION for c in piece)


def word_start_table(tokenizer):
    """Boolean array over the vocabulary: does this id start a word?"""
    sp = tokenizer._sp
    return np.array([is_word_start_piece(sp.id_to_piece(i))
                     for i in range(sp.get_piece_size())], dtype=bool)


def ngram_probabilities(max_ngram):
    p = 1.0 / np.arange(1, max_ngram + 1)
    return p / p.sum()


def span_mask(token_ids, word_start, rng, *, special_ids, vocabulary_size, mask_token_id,
              max_ngram=3, selection_rate=0.15, selection_length=96, mask_token_rate=0.8,
              random_token_rate=0.1, return_spans=False):
    """Whole-word (max_ngram=1) or n-gram (max_ngram>1) masking of a (batch, length) array.

    Returns (masked_ids, mask_positions, mask_ids, mask_weights) like the preprocessor's
    `mask`: positions in reading order, padded with 0 and weight 0 after the chosen ones.
    With `return_spans`, also a list per row of the chosen spans (start, stop, words).
    """
    token_ids = np.asarray(token_ids)
    batch, length = token_ids.shape
    width = selection_length
    selectable = ~np.isin(token_ids, special_ids)
    n_selectable = selectable.sum(axis=1)
    budget = np.minimum(np.rint(n_selectable * selection_rate).astype(int), width)
    budget = np.where((budget == 0) & (n_selectable > 0) & (selection_rate > 0), 1, budget)
    # Word starts: a start piece, or the first selectable piece after a special one.
    prev_selectable = np.concatenate([np.zeros((batch, 1), bool), selectable[:, :-1]], 1)
    starts = selectable & (word_start[token_ids] | ~prev_selectable)
    # Per position, drawn for the whole batch at once: the n of a span starting at that
    # word (p(n) ∝ 1/n), a random priority (spans are tried in priority order), the end of
    # the word starting there (next start or special piece), and the segment it is in.
    cdf = np.cumsum(ngram_probabilities(max_ngram))[:-1]
    ngram = 1 + (rng.random((batch, length))[..., None] >= cdf).sum(-1)
    priority = rng.random((batch, length))
    positions_ = np.arange(length)
    boundary = np.where(starts | ~selectable, positions_, length)
    next_boundary = np.minimum.accumulate(boundary[:, ::-1], axis=1)[:, ::-1]
    word_end = np.concatenate([next_boundary[:, 1:], np.full((batch, 1), length)], 1)
    segment = np.cumsum(~selectable, axis=1)
    chosen_rows = np.zeros((batch, length), dtype=bool)
    spans = [[] for _ in range(batch)]
    for row in range(batch):
        left = int(budget[row])
        if left == 0:
            continue
        s = np.flatnonzero(starts[row])
        k = len(s)
        order = np.argsort(priority[row, s]).tolist()
        ns = ngram[row, s].tolist()
        seg = segment[row, s].tolist()
        s_list, e = s.tolist(), word_end[row, s].tolist()
        covered = chosen_rows[row]
        taken = [False] * k  # spans are whole words, so overlap is checked per word
        for w in order:
            if left <= 0:
                break
            # Words w..w+n-1, shortened until the span fits the budget and one segment.
            n = ns[w]
            if n > k - w:
                n = k - w
            lo = s_list[w]
            while n > 0 and (e[w + n - 1] - lo > left or seg[w + n - 1] != seg[w]):
                n -= 1
            if n == 0 or True in taken[w:w + n]:
                continue
            hi = e[w + n - 1]
            taken[w:w + n] = [True] * n
            covered[lo:hi] = True
            left -= hi - lo
            spans[row].append((lo, hi, n))
    n_chosen = chosen_rows.sum(axis=1)
    # Positions in reading order, padded to `width` with 0 (weight 0).
    rank = np.cumsum(chosen_rows, axis=1) - 1
    positions = np.zeros((batch, width), dtype="int32")
    r, c = np.nonzero(chosen_rows)
    positions[r, rank[r, c]] = c
    chosen = np.arange(width)[None, :] < n_chosen[:, None]
    mask_ids = np.where(chosen, np.take_along_axis(token_ids, positions, 1), 0)
    # 80% [MASK], 10% a random piece, 10% unchanged - decided per piece, as ALBERT does.
    draw = rng.random((batch, width))
    use_mask = chosen & (draw < mask_token_rate)
    use_random = chosen & (draw >= mask_token_rate) & (draw < mask_token_rate +
                                                         random_token_rate)
    random_ids = rng.integers(0, vocabulary_size, (batch, width))
    replacement = np.where(use_mask, mask_token_id, np.where(use_random, random_ids, mask_ids))
    masked = token_ids.copy()
    rows = np.repeat(np.arange(batch)[:, None], width, axis=1)
    masked[rows[chosen], positions[chosen]] = replacement[chosen]
    out = (masked.astype(token_ids.dtype), positions, mask_ids.astype("int32"),
           chosen.astype("float32"))
    return out + (spans,) if return_spans else out


class Masker:
    """Callable `ids -> (masked, positions, labels, weights)` for one masking mode."""

    def __init__(self, preprocessor, mode="token", max_ngram=3):
        if mode not in MODES:
            raise ValueError(f"mask mode must be one of {MODES}, got {mode!r}")
        self.pre, self.mode = preprocessor, mode
        self.max_ngram = 1 if mode == "word" else max_ngram
        tok = preprocessor.tokenizer
        self.word_start = word_start_table(tok) if mode != "token" else None
        self.kwargs = dict(special_ids=tok.special_token_ids,
                           vocabulary_size=tok.vocabulary_size(),
                           mask_token_id=tok.mask_token_id,
                           selection_rate=preprocessor.mask_selection_rate,
                           selection_length=preprocessor.mask_selection_length,
                           mask_token_rate=preprocessor.mask_token_rate,
                           random_token_rate=preprocessor.random_token_rate)

    def __call__(self, ids, rng):
        if self.mode == "token":
            self.pre.rng = rng
            return self.pre.mask(ids)
        if self.mode == "mixed":
            token_rows = rng.random(len(ids)) < 0.5
            self.pre.rng = rng
            parts = [self.pre.mask(ids[token_rows]),
                     span_mask(ids[~token_rows], self.word_start, rng,
                               max_ngram=self.max_ngram, **self.kwargs)]
            out = []
            for a, b in zip(*parts):
                merged = np.empty((len(ids),) + a.shape[1:], dtype=a.dtype)
                merged[token_rows], merged[~token_rows] = a, b.astype(a.dtype)
                out.append(merged)
            return tuple(out)
        return span_mask(ids, self.word_start, rng, max_ngram=self.max_ngram, **self.kwargs)
