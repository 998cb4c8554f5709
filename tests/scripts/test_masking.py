"""scripts/mlm_masking.py: whole-word and n-gram masking keep v1's budget and 80/10/10.

Fast (numpy only, the shipped vocabulary): no model is built.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import mlm_masking  # noqa: E402
from albert_demo.models.albert_tokenizer import AlbertTokenizer  # noqa: E402

VOCAB = ROOT / "assets" / "albert_tiny_en_uncased" / "assets" / "tokenizer" / "vocabulary.spm"
TEXT = ("My grandmother kept her homework, unbelievably, in 1987 boxes. The neighbours "
        "complained about the extraordinarily loud televisions and the dogs! ") * 6


@pytest.fixture(scope="module")
def tok():
    return AlbertTokenizer(str(VOCAB))


@pytest.fixture(scope="module")
def batch(tok):
    ids = tok(TEXT)
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(64):  # random 126-piece windows with [CLS] ... [SEP], as in pretraining
        start = rng.integers(0, len(ids) - 126)
        rows.append(np.concatenate([[tok.cls_token_id], ids[start:start + 126],
                                    [tok.sep_token_id]]))
    return np.stack(rows).astype("int32")


def run(tok, ids, max_ngram, seed=0, **kw):
    table = mlm_masking.word_start_table(tok)
    return table, mlm_masking.span_mask(
        ids, table, np.random.default_rng(seed), special_ids=tok.special_token_ids,
        vocabulary_size=tok.vocabulary_size(), mask_token_id=tok.mask_token_id,
        max_ngram=max_ngram, selection_length=128 * 15 // 100 + 2, return_spans=True, **kw)


def test_word_start_rule_follows_albert():
    start = mlm_masking.is_word_start_piece
    assert start("▁home") and not start("work") and not start("s")
    assert start(".") and start(",") and start("7") and start("é")


def test_words_are_a_start_piece_and_its_continuations(tok):
    table = mlm_masking.word_start_table(tok)
    pieces = [tok._sp.id_to_piece(int(i)) for i in tok("unbelievably homework.")]
    starts = [bool(table[tok._sp.piece_to_id(p)]) for p in pieces]
    assert starts[0] and pieces[-1] == "." and starts[-1]
    assert not all(starts), pieces  # at least one continuation piece


@pytest.mark.parametrize("max_ngram", [1, 3])
def test_budget_whole_words_and_format(tok, batch, max_ngram):
    table, (masked, positions, labels, weights, spans) = run(tok, batch, max_ngram)
    selectable = ~np.isin(batch, tok.special_token_ids)
    budget = np.rint(selectable.sum(1) * 0.15).astype(int)
    n = weights.sum(1).astype(int)
    assert (n <= budget).all() and (n >= budget - 3).all(), (n, budget)
    assert abs(n.sum() / selectable.sum() - 0.15) < 0.01
    for row in range(len(batch)):
        k = n[row]
        pos = positions[row, :k]
        assert (np.diff(pos) > 0).all() and (positions[row, k:] == 0).all()
        assert (labels[row, :k] == batch[row, pos]).all()
        assert selectable[row, pos].all()
        chosen = np.zeros(batch.shape[1], bool)
        chosen[pos] = True
        # whole words: a chosen piece's neighbours inside the same word are chosen too
        for p in pos:
            if not table[batch[row, p]] and selectable[row, p - 1]:
                assert chosen[p - 1], (row, p)
            if p + 1 < batch.shape[1] and selectable[row, p + 1] and not table[
                    batch[row, p + 1]]:
                assert chosen[p + 1], (row, p)
        assert sum(hi - lo for lo, hi, _ in spans[row]) == k


def test_ngram_span_lengths_follow_one_over_n(tok, batch):
    words = []
    for seed in range(8):
        _, (*_, spans) = run(tok, batch, 3, seed=seed)
        words += [w for row in spans for _, _, w in row]
    words = np.array(words)
    assert set(words.tolist()) <= {1, 2, 3}
    share = np.bincount(words, minlength=4)[1:] / len(words)
    # p(n) ∝ 1/n is 0.545 / 0.273 / 0.182 before the budget shortens the odd last span.
    assert 0.5 < share[0] < 0.68 and 0.2 < share[1] < 0.33 and 0.1 < share[2] < 0.2, share
    _, (*_, word_spans) = run(tok, batch, 1)
    assert {w for row in word_spans for _, _, w in row} == {1}


def test_eighty_ten_ten(tok, batch):
    masked, positions, labels, weights = [], [], [], []
    for seed in range(10):
        _, (m, p, l, w, _) = run(tok, batch, 3, seed=seed)
        masked.append(m), positions.append(p), labels.append(l), weights.append(w)
    m, p, l, w = (np.concatenate(a) for a in (masked, positions, labels, weights))
    got = np.take_along_axis(m, p, 1)[w > 0]
    gold = l[w > 0]
    as_mask = (got == tok.mask_token_id).mean()
    kept = (got == gold).mean()
    assert abs(as_mask - 0.8) < 0.02 and abs(kept - 0.1) < 0.02, (as_mask, kept)
    # nothing outside the chosen positions changes
    outside = np.ones_like(m, bool)
    rows = np.repeat(np.arange(len(m))[:, None], p.shape[1], 1)
    outside[rows[w > 0], p[w > 0]] = False
    assert (m[outside] == np.tile(batch, (10, 1))[outside]).all()


def test_spans_stay_inside_one_segment(tok):
    ids = tok("the cat sat on the mat and looked at the dog.")
    row = np.concatenate([[tok.cls_token_id], ids, [tok.sep_token_id], ids,
                          [tok.sep_token_id]])
    batch = np.tile(row, (200, 1)).astype("int32")
    sep = np.flatnonzero(row == tok.sep_token_id)[0]
    _, (*_, spans) = run(tok, batch, 3)
    assert all(hi <= sep or lo > sep for r in spans for lo, hi, _ in r)


def test_token_mode_is_v1(tok, batch):
    from albert_demo.models.albert_masked_lm_preprocessor import AlbertMaskedLMPreprocessor
    pre = AlbertMaskedLMPreprocessor(tok, sequence_length=128, mask_selection_length=21,
                                     seed=0)
    v1 = pre.mask(batch)
    masker = mlm_masking.Masker(pre, "token")
    again = masker(batch, np.random.default_rng(0))
    for a, b in zip(v1, again):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        mlm_masking.Masker(pre, "span")


def test_mixed_mode_masks_rows_either_way_within_budget(tok, batch):
    from albert_demo.models.albert_masked_lm_preprocessor import AlbertMaskedLMPreprocessor
    pre = AlbertMaskedLMPreprocessor(tok, sequence_length=128, mask_selection_length=21)
    masked, positions, labels, weights = mlm_masking.Masker(pre, "mixed")(
        batch, np.random.default_rng(1))
    assert masked.shape == batch.shape and positions.shape == (len(batch), 21)
    selectable = ~np.isin(batch, tok.special_token_ids)
    budget = np.rint(selectable.sum(1) * 0.15).astype(int)
    n = weights.sum(1).astype(int)
    assert (n <= budget).all() and (n >= budget - 3).all()
    for row in range(len(batch)):
        assert (labels[row, :n[row]] == batch[row, positions[row, :n[row]]]).all()
    # some rows cut words (token masking), some never do (n-gram masking)
    table = mlm_masking.word_start_table(tok)
    cuts = []
    for row in range(len(batch)):
        chosen = np.zeros(batch.shape[1], bool)
        chosen[positions[row, :n[row]]] = True
        cont = ~table[batch[row]] & selectable[row]
        cont[0] = False
        cuts.append(bool((chosen[1:] != chosen[:-1])[cont[1:]].any()))
    assert 0 < sum(cuts) < len(batch)
