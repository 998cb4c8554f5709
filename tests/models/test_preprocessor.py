"""AlbertMaskedLMPreprocessor: masking statistics, packing, truncation, seeding, caps.

Statistics are measured over 2000 generated sentences (~40k selectable tokens); the
stated tolerances (±0.01 on the 15% selection rate, ±0.02 on the 80/10/10 split) are
several standard errors wide.
"""

import numpy as np
import pytest

from model_helpers import english_sentences

CLS, SEP, PAD, MASK = 2, 3, 0, 4


@pytest.fixture(scope="module")
def tokenizer(spm_proto):
    from albert_demo import AlbertTokenizer
    return AlbertTokenizer(spm_proto)


def make(tokenizer, **kwargs):
    from albert_demo import AlbertMaskedLMPreprocessor
    return AlbertMaskedLMPreprocessor(tokenizer, **kwargs)


def test_masking_statistics(tokenizer):
    pre = make(tokenizer, sequence_length=64, seed=0)
    sentences = english_sentences(2000, seed=1)
    packed = pre.pack(pre._segments(sentences))
    original = packed["token_ids"]
    x, y, weights = pre(sentences)
    assert x["token_ids"].shape == (2000, 64)
    assert x["mask_positions"].shape == y.shape == weights.shape == (2000, 96)
    np.testing.assert_array_equal(x["padding_mask"], packed["padding_mask"])
    np.testing.assert_array_equal(x["segment_ids"], packed["segment_ids"])

    specials = np.isin(original, [CLS, SEP, PAD, MASK])
    selectable = int((~specials).sum())
    chosen = weights.astype(bool)
    rows = np.repeat(np.arange(2000)[:, None], 96, axis=1)[chosen]
    cols = x["mask_positions"][chosen]
    # Labels are the original tokens; specials and padding are never selected.
    np.testing.assert_array_equal(y[chosen], original[rows, cols])
    assert not specials[rows, cols].any()
    assert len(set(zip(rows.tolist(), cols.tolist()))) == len(rows)  # no duplicates
    # Unused slots: weight 0, label 0, position 0.
    assert (y[~chosen] == 0).all() and (x["mask_positions"][~chosen] == 0).all()
    # Only selected positions differ from the packed input.
    changed = x["token_ids"] != original
    unselected = np.ones_like(changed)
    unselected[rows, cols] = False
    assert not (changed & unselected).any()

    rate = len(rows) / selectable
    after = x["token_ids"][rows, cols]
    masked = float(np.mean(after == MASK))
    unchanged = float(np.mean(after == y[chosen]))
    randomised = 1 - masked - unchanged
    print(f"[preprocessor] selectable={selectable} selected={rate:.4f} "
          f"mask={masked:.4f} random={randomised:.4f} unchanged={unchanged:.4f}")
    assert abs(rate - 0.15) <= 0.01
    assert abs(masked - 0.8) <= 0.02
    assert abs(randomised - 0.1) <= 0.02
    assert abs(unchanged - 0.1) <= 0.02


def test_packing_pairs_with_round_robin_truncation(tokenizer):
    pre = make(tokenizer, sequence_length=12, seed=0)
    a = np.arange(10, 20, dtype="int32")  # 10 tokens
    b = np.arange(30, 34, dtype="int32")  # 4 tokens
    # Budget 12 - 3 specials = 9: b (4) fits in its half, so a keeps 5.
    out = pre.pack([(a, b)])
    np.testing.assert_array_equal(
        out["token_ids"][0], [CLS, 10, 11, 12, 13, 14, SEP, 30, 31, 32, 33, SEP])
    np.testing.assert_array_equal(out["segment_ids"][0], [0] * 7 + [1] * 5)
    np.testing.assert_array_equal(out["padding_mask"][0], [1] * 12)
    # Both long: split evenly, the first segment gets the odd token.
    out = pre.pack([(a, np.arange(30, 40, dtype="int32"))])
    np.testing.assert_array_equal(
        out["token_ids"][0], [CLS, 10, 11, 12, 13, 14, SEP, 30, 31, 32, 33, SEP])
    # Short pair: no truncation, padding after the last [SEP], segment ids 0 there.
    out = pre.pack([(a[:2], b[:3])])
    np.testing.assert_array_equal(
        out["token_ids"][0], [CLS, 10, 11, SEP, 30, 31, 32, SEP, PAD, PAD, PAD, PAD])
    np.testing.assert_array_equal(out["segment_ids"][0], [0] * 4 + [1] * 4 + [0] * 4)
    np.testing.assert_array_equal(out["padding_mask"][0], [1] * 8 + [0] * 4)
    # One segment, truncated to length - 2.
    out = pre.pack([(np.arange(10, 30, dtype="int32"),)])
    np.testing.assert_array_equal(out["token_ids"][0],
                                  [CLS] + list(range(10, 20)) + [SEP])


def test_string_pairs_end_to_end(tokenizer):
    pre = make(tokenizer, sequence_length=32, mask_selection_rate=0.0, seed=0)
    first, second = ["The quick brown fox."], ["Paris is the capital of France!"]
    x, y, weights = pre((first, second))
    ids_a, ids_b = tokenizer(first[0]), tokenizer(second[0])
    expected = [CLS, *ids_a, SEP, *ids_b, SEP]
    n = len(expected)
    assert n <= 32
    np.testing.assert_array_equal(x["token_ids"][0, :n], expected)
    assert (x["token_ids"][0, n:] == PAD).all()
    np.testing.assert_array_equal(x["segment_ids"][0, :n],
                                  [0] * (len(ids_a) + 2) + [1] * (len(ids_b) + 1))
    assert weights.sum() == 0  # rate 0: nothing selected


def test_seeded_runs_are_reproducible(tokenizer):
    sentences = english_sentences(50, seed=3)
    first = make(tokenizer, sequence_length=32, seed=123)(sentences)
    second = make(tokenizer, sequence_length=32, seed=123)(sentences)
    other = make(tokenizer, sequence_length=32, seed=124)(sentences)
    for key in first[0]:
        np.testing.assert_array_equal(first[0][key], second[0][key])
    np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(first[2], second[2])
    assert not np.array_equal(first[0]["mask_positions"], other[0]["mask_positions"])


def test_mask_selection_length_cap(tokenizer):
    pre = make(tokenizer, sequence_length=64, mask_selection_length=3, seed=0)
    long_sentences = [" ".join(english_sentences(6, seed=s)) for s in range(20)]
    x, y, weights = pre(long_sentences)
    assert x["mask_positions"].shape == y.shape == weights.shape == (20, 3)
    # 15% of ~62 selectable tokens is ~9, capped at 3.
    assert (weights.sum(axis=1) == 3).all()
    assert (np.diff(x["mask_positions"], axis=1) > 0).all()  # reading order, distinct
    # A longer cap than the sequence pads the slots with weight 0.
    pre = make(tokenizer, sequence_length=8, mask_selection_length=20, seed=0)
    x, y, weights = pre(["The quick brown fox jumped over the lazy dog."])
    assert weights.shape == (1, 20) and 1 <= weights.sum() <= 6


def test_rejects_bad_settings(tokenizer):
    with pytest.raises(ValueError):
        make(tokenizer, mask_token_rate=0.9, random_token_rate=0.2)
    with pytest.raises(ValueError):
        make(tokenizer, truncate="waterfall")
