"""Fine-tuning batches are packed to the shortest length bucket that fits them."""

import numpy as np

from albert_demo.finetune.training import FullBatches
from albert_demo import AlbertMaskedLMPreprocessor, AlbertTokenizer


def batches(token_ids, seed=0):
    tokenizer = AlbertTokenizer.from_preset("albert_tiny_en_uncased")
    preprocessor = AlbertMaskedLMPreprocessor(tokenizer, sequence_length=128,
                                              mask_selection_length=21, seed=seed)
    return FullBatches(token_ids, preprocessor, batch_size=4, seed=seed)


def test_short_passages_are_not_padded_to_the_full_length():
    short = [list(range(10, 10 + n)) for n in (5, 9, 12, 14)] * 2
    data = batches(short)
    for index in range(len(data)):
        x, y, w = data[index]
        assert x["token_ids"].shape == (4, 16)  # longest 14 + [CLS] + [SEP]
        assert x["mask_positions"].shape == (4, 4) == y.shape == w.shape  # ceil(16 * .15) + 1
        assert w.sum() > 0
    assert data.tokens_per_step == 4 * np.mean([n + 2 for n in (5, 9, 12, 14)])


def test_a_long_passage_takes_its_batch_to_a_longer_bucket_capped_at_the_maximum():
    data = batches([list(range(10, 40)), list(range(10, 400))] + [[11, 12]] * 2)
    x, _, _ = data[0]
    assert x["token_ids"].shape == (4, 128)  # 390 tokens: truncated to sequence_length
    assert x["mask_positions"].shape == (4, 21)  # the preprocessor's own width
    assert sorted(data.buckets) == [16, 32, 64, 128]


def test_same_seed_same_batches():
    passages = [list(range(10, 10 + n)) for n in (3, 20, 40, 70, 8, 9, 10, 11)]
    first, second = batches(passages, seed=3), batches(passages, seed=3)
    for index in range(len(first)):
        a, b = first[index], second[index]
        for key in a[0]:
            np.testing.assert_array_equal(a[0][key], b[0][key])
        np.testing.assert_array_equal(a[1], b[1])
