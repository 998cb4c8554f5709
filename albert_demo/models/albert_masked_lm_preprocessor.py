"""Strings -> packed, dynamically masked ALBERT inputs (numpy, seedable).

Same defaults and outputs as `keras_hub.models.AlbertMaskedLMPreprocessor`:
`x = {token_ids, padding_mask, segment_ids, mask_positions}`, `y = mask_ids`,
`sample_weight = mask_weights`.
"""

import keras
import numpy as np

from albert_demo.models.albert_layers import PACKAGE
from albert_demo.models.albert_tokenizer import AlbertTokenizer
from albert_demo.models.preset_mixin import PresetMixin

# The arguments a preset's preprocessor.json may set (keras-hub writes more keys).
PRESET_KEYS = ("sequence_length", "truncate", "mask_selection_rate", "mask_selection_length",
               "mask_token_rate", "random_token_rate")


def round_robin_lengths(lengths, budget):
    """How many tokens each of one or two segments keeps when packing into `budget`."""
    if sum(lengths) <= budget:
        return list(lengths)
    if len(lengths) == 1:
        return [budget]
    first, second = lengths
    half_first, half_second = (budget + 1) // 2, budget // 2
    if first <= half_first:
        return [first, budget - first]
    if second <= half_second:
        return [budget - second, second]
    return [half_first, half_second]


@keras.saving.register_keras_serializable(package=PACKAGE)
class AlbertMaskedLMPreprocessor(PresetMixin):
    """Tokenize, pack `[CLS] a [SEP] (b [SEP])`, pad, and pick masks for MLM training.

    Example:
    ```python
    pre = AlbertMaskedLMPreprocessor.from_preset("albert_tiny_en_uncased",
                                                 sequence_length=32)
    x, y, sample_weight = pre(["The quick brown fox jumped.", "I forgot my homework."])
    x["token_ids"].shape  # (2, 32); x["mask_positions"].shape == (2, 96)
    ```
    """

    tokenizer_cls = AlbertTokenizer

    def __init__(self, tokenizer, sequence_length=512, truncate="round_robin",
                 mask_selection_rate=0.15, mask_selection_length=96, mask_token_rate=0.8,
                 random_token_rate=0.1, seed=None, name="albert_masked_lm_preprocessor"):
        if truncate != "round_robin":
            raise ValueError(f"Only truncate='round_robin' is supported, got {truncate!r}.")
        if mask_token_rate + random_token_rate > 1:
            raise ValueError("mask_token_rate + random_token_rate must be at most 1.")
        if sequence_length < 3:
            raise ValueError("sequence_length must be at least 3 ([CLS] x [SEP]).")
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.truncate = truncate
        self.mask_selection_rate = float(mask_selection_rate)
        self.mask_selection_length = int(mask_selection_length)
        self.mask_token_rate = float(mask_token_rate)
        self.random_token_rate = float(random_token_rate)
        self.seed = seed
        self.name = name
        self.rng = np.random.default_rng(seed)

    # -- packing ----------------------------------------------------------------------
    def _segments(self, x):
        """Normalise the accepted input forms to a list of tuples of id arrays."""
        if isinstance(x, dict):
            raise TypeError("Got an already preprocessed dict; pass raw strings instead.")
        if isinstance(x, tuple):  # (segment_a_batch, segment_b_batch)
            if len(x) != 2:
                raise ValueError("Pass one batch of strings, or a tuple of two batches.")
            a, b = (self._as_ids(part) for part in x)
            if len(a) != len(b):
                raise ValueError("Both segment batches must have the same length.")
            return list(zip(a, b))
        return [(ids,) for ids in self._as_ids(x)]

    def _as_ids(self, batch):
        if isinstance(batch, str):
            batch = [batch]
        batch = list(batch)
        if batch and not isinstance(batch[0], (str, np.str_)):  # already token ids
            return [np.asarray(ids, dtype="int32") for ids in batch]
        return self.tokenizer(batch)

    def pack(self, segments_batch):
        """Pack segment tuples into `token_ids`, `segment_ids`, `padding_mask` arrays."""
        length = self.sequence_length
        batch = len(segments_batch)
        token_ids = np.full((batch, length), self.tokenizer.pad_token_id, dtype="int32")
        segment_ids = np.zeros((batch, length), dtype="int32")
        cls_id, sep_id = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        for row, segments in enumerate(segments_batch):
            keep = round_robin_lengths([len(s) for s in segments], length - 1 - len(segments))
            pieces, segment_of = [[cls_id]], [[0]]
            for n, (seg, k) in enumerate(zip(segments, keep)):
                pieces.append(seg[:k])
                pieces.append([sep_id])
                segment_of.append([n] * (k + 1))
            ids = np.concatenate([np.asarray(p, dtype="int32") for p in pieces])
            token_ids[row, :len(ids)] = ids
            segment_ids[row, :len(ids)] = np.concatenate(segment_of)[:len(ids)]
        # bool, as keras-hub's packer; a sequence that is only padding still has its [CLS].
        padding_mask = token_ids != self.tokenizer.pad_token_id
        padding_mask[:, 0] = True
        return {"token_ids": token_ids, "segment_ids": segment_ids,
                "padding_mask": padding_mask}

    # -- masking ----------------------------------------------------------------------
    def mask(self, token_ids):
        """Choose masks; returns (masked_ids, mask_positions, mask_ids, mask_weights)."""
        batch, length = token_ids.shape
        width = self.mask_selection_length
        selectable = ~np.isin(token_ids, self.tokenizer.special_token_ids)
        n_selectable = selectable.sum(axis=1)
        n_select = np.minimum(np.rint(n_selectable * self.mask_selection_rate).astype(int),
                              width)
        n_select = np.where((n_select == 0) & (n_selectable > 0) &
                            (self.mask_selection_rate > 0), 1, n_select)
        # Random priorities; unselectable positions sort last.
        priority = np.where(selectable, self.rng.random((batch, length)), -1.0)
        order = np.argsort(-priority, axis=1, kind="stable")[:, :width]
        if order.shape[1] < width:  # more mask slots than positions: pad the slots
            order = np.pad(order, ((0, 0), (0, width - order.shape[1])), constant_values=length)
        rank = np.arange(width)[None, :]
        chosen = rank < n_select[:, None]
        # Keep chosen positions in reading order; padding slots point at position 0.
        positions = np.where(chosen, order, length)
        positions = np.sort(positions, axis=1)
        chosen = positions < length
        positions = np.where(chosen, positions, 0).astype("int32")
        mask_ids = np.where(chosen, np.take_along_axis(token_ids, positions, 1), 0)
        # 80% [MASK], 10% a random token, 10% unchanged.
        draw = self.rng.random((batch, width))
        use_mask = chosen & (draw < self.mask_token_rate)
        use_random = chosen & (draw >= self.mask_token_rate) & (
            draw < self.mask_token_rate + self.random_token_rate)
        random_ids = self.rng.integers(0, self.tokenizer.vocabulary_size(), (batch, width))
        replacement = np.where(use_mask, self.tokenizer.mask_token_id,
                               np.where(use_random, random_ids, mask_ids))
        masked = token_ids.copy()
        rows = np.repeat(np.arange(batch)[:, None], width, axis=1)
        masked[rows[chosen], positions[chosen]] = replacement[chosen]
        return (masked, positions, mask_ids.astype("int32"), chosen.astype("float32"))

    def __call__(self, x, y=None, sample_weight=None):
        packed = self.pack(self._segments(x))
        masked, positions, mask_ids, weights = self.mask(packed["token_ids"])
        features = {"token_ids": masked, "padding_mask": packed["padding_mask"],
                    "segment_ids": packed["segment_ids"], "mask_positions": positions}
        return features, mask_ids, weights

    def get_config(self):
        return {"name": self.name,
                "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
                "sequence_length": self.sequence_length, "truncate": self.truncate,
                "mask_selection_rate": self.mask_selection_rate,
                "mask_selection_length": self.mask_selection_length,
                "mask_token_rate": self.mask_token_rate,
                "random_token_rate": self.random_token_rate, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        tokenizer = config.pop("tokenizer", None)
        if isinstance(tokenizer, dict):
            tokenizer = keras.saving.deserialize_keras_object(tokenizer)
        if tokenizer is None:
            raise ValueError("AlbertMaskedLMPreprocessor config needs a 'tokenizer'.")
        return cls(tokenizer=tokenizer, **{k: v for k, v in config.items()
                                           if k in PRESET_KEYS + ("name", "seed")})

    @classmethod
    def _from_loaded(cls, loaded, load_weights=True, **kwargs):
        tokenizer = kwargs.pop("tokenizer", None) or cls.tokenizer_cls._from_loaded(loaded)
        config = {k: v for k, v in loaded.preprocessor_config.items() if k in PRESET_KEYS}
        return cls(tokenizer, **{**config, **kwargs})
