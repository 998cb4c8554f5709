"""ALBERT's SentencePiece tokenizer, normalising text the way transformers' does."""

import base64
import binascii
import os
import unicodedata

import keras
import numpy as np
import sentencepiece as spm

from albert_demo.models.albert_layers import PACKAGE
from albert_demo.models.preset_mixin import PresetMixin
from albert_demo.presets.weights import CheckpointError

MASK = "[MASK]"


def normalize(text, do_lower_case=True, keep_accents=False):
    """transformers' AlbertTokenizer normaliser: quotes, NFKD + strip accents, lower."""
    text = text.replace("``", '"').replace("''", '"')
    if not keep_accents and not text.isascii():  # ASCII has nothing to decompose
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    if do_lower_case:
        text = text.lower()
    return text


@keras.saving.register_keras_serializable(package=PACKAGE)
class AlbertTokenizer(PresetMixin):
    """SentencePiece tokenizer for ALBERT; `[MASK]` typed in text is the mask token.

    `proto` is a path or the serialized SentencePiece model. With `sequence_length`,
    outputs are padded with `<pad>` (or truncated) to that length, as keras-hub's.
    `detokenize` writes special tokens out (`"[CLS] the quick brown fox [SEP] <pad>"`),
    as keras-hub's does.

    Example:
    ```python
    tokenizer = AlbertTokenizer.from_preset("albert_tiny_en_uncased")
    ids = tokenizer("The sky is [MASK].")     # np.ndarray of int32
    tokenizer.detokenize(ids)                  # "the sky is [MASK] ."
    ```
    """

    def __init__(self, proto, sequence_length=None, do_lower_case=True, keep_accents=False,
                 name="albert_tokenizer"):
        if isinstance(proto, (str, os.PathLike)):
            with open(proto, "rb") as f:
                proto = f.read()
        if not isinstance(proto, bytes) or not proto:
            raise ValueError("AlbertTokenizer needs a SentencePiece model: a path or bytes.")
        if sequence_length is not None and (
                isinstance(sequence_length, bool) or not isinstance(sequence_length, int)
                or sequence_length < 1):
            raise ValueError(f"sequence_length must be a positive integer or None, got "
                             f"{sequence_length!r}.")
        self.proto = proto
        self.sequence_length = sequence_length
        self.do_lower_case = do_lower_case
        self.keep_accents = keep_accents
        self.name = name
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(proto)
        except Exception as error:  # sentencepiece raises plain RuntimeError/OSError
            raise ValueError(f"Not a valid SentencePiece model: {error}") from error
        for piece in ("[CLS]", "[SEP]", "<pad>", MASK):
            if self._sp.piece_to_id(piece) == self._sp.unk_id() and piece != "<unk>":
                raise ValueError(f"SentencePiece model lacks ALBERT's special token {piece!r}.")
        self.cls_token_id = self._sp.piece_to_id("[CLS]")
        self.sep_token_id = self._sp.piece_to_id("[SEP]")
        self.pad_token_id = self._sp.piece_to_id("<pad>")
        self.mask_token_id = self._sp.piece_to_id(MASK)
        self.unk_token_id = self._sp.unk_id()
        self.special_token_ids = sorted({self.cls_token_id, self.sep_token_id,
                                         self.pad_token_id, self.mask_token_id})

    # -- encoding ---------------------------------------------------------------------
    def _encode_one(self, text):
        if not isinstance(text, str):
            raise TypeError(f"Expected text as str, got {type(text).__name__}.")
        if not text.isascii():  # lone surrogates cannot reach SentencePiece as UTF-8
            text = text.encode("utf-8", "replace").decode("utf-8")
        ids = []
        for n, chunk in enumerate(text.split(MASK)):
            if n:
                ids.append(self.mask_token_id)
            chunk = normalize(chunk, self.do_lower_case, self.keep_accents)
            if chunk.strip():
                ids.extend(self._sp.encode(chunk))
        return np.asarray(ids, dtype="int32")

    def tokenize(self, inputs):
        """str -> int32 array; list/array of str -> list of int32 arrays, or one
        (batch, sequence_length) array when `sequence_length` is set."""
        if isinstance(inputs, str):
            return self._to_length(self._encode_one(inputs))
        rows = [self._encode_one(str(t) if isinstance(t, np.str_) else t) for t in inputs]
        if self.sequence_length is None:
            return rows
        return np.stack([self._to_length(r) for r in rows]) if rows else np.zeros(
            (0, self.sequence_length), "int32")

    __call__ = tokenize

    def _to_length(self, ids):
        if self.sequence_length is None:
            return ids
        out = np.full(self.sequence_length, self.pad_token_id, dtype="int32")
        ids = ids[:self.sequence_length]
        out[:len(ids)] = ids
        return out

    def detokenize(self, ids):
        """ids (int or 1-D) -> str; 2-D or list of lists -> list of str.

        As keras-hub's: the special tokens (`[CLS]`, `[SEP]`, `<pad>`, `[MASK]`) are
        written out and the text between them is decoded by SentencePiece, parts joined by
        a space: `"[CLS] the quick brown fox [SEP] <pad>"`."""
        if np.isscalar(ids) or (isinstance(ids, np.ndarray) and ids.ndim == 0):
            return self._detokenize_row([int(ids)])
        arr = ids if isinstance(ids, (list, tuple)) else np.asarray(ids)
        if isinstance(arr, np.ndarray) and arr.ndim == 1 or (
                isinstance(arr, (list, tuple)) and (not arr or np.isscalar(arr[0]))):
            return self._detokenize_row([int(i) for i in arr])
        return [self.detokenize(row) for row in arr]

    def _detokenize_row(self, ids):
        parts, text = [], []
        for i in ids:
            token = self.id_to_token(i)  # range-checked
            if i in self.special_token_ids:
                parts += [self._sp.decode(text), token]
                text = []
            else:
                text.append(i)
        parts.append(self._sp.decode(text))
        return " ".join(p for p in parts if p)

    # -- vocabulary -------------------------------------------------------------------
    def vocabulary_size(self):
        return self._sp.get_piece_size()

    def get_vocabulary(self):
        return [self._sp.id_to_piece(i) for i in range(self.vocabulary_size())]

    def id_to_token(self, token_id):
        if not 0 <= int(token_id) < self.vocabulary_size():
            raise ValueError(f"Token id {token_id} is outside the vocabulary "
                             f"(0..{self.vocabulary_size() - 1}).")
        return self._sp.id_to_piece(int(token_id))

    def token_to_id(self, token):
        return self._sp.piece_to_id(token)

    def token_text(self, token_id):
        """A piece as a reader sees it: '▁cat' -> 'cat', '##' style pieces kept."""
        return self.id_to_token(token_id).replace("\u2581", " ").strip() or self.id_to_token(
            token_id)

    def starts_word(self, token_id):
        return self.id_to_token(token_id).startswith("\u2581")

    def get_config(self):
        """The proto travels in the config as base64 text (keras-hub's tokenizer
        accepts the same), so `from_config` alone rebuilds a working tokenizer."""
        return {"name": self.name, "proto": base64.b64encode(self.proto).decode("ascii"),
                "sequence_length": self.sequence_length,
                "do_lower_case": self.do_lower_case, "keep_accents": self.keep_accents}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        proto = config.pop("proto", None)
        if not isinstance(proto, str):
            raise ValueError("AlbertTokenizer config needs 'proto': the SentencePiece model "
                             "as base64 text (what get_config writes).")
        try:  # never a path: a config must not make us read files
            proto = base64.b64decode(proto, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValueError(f"AlbertTokenizer config 'proto' is not base64: {error}") from None
        return cls(proto=proto, **{k: v for k, v in config.items() if k in (
            "name", "sequence_length", "do_lower_case", "keep_accents")})

    @classmethod
    def _from_loaded(cls, loaded, load_weights=True, **kwargs):
        if loaded.proto is None:
            raise CheckpointError(f"{loaded.label}: no SentencePiece vocabulary "
                                  "(assets/tokenizer/vocabulary.spm or spiece.model).")
        return cls(proto=loaded.proto, **{"do_lower_case": loaded.do_lower_case, **kwargs})
