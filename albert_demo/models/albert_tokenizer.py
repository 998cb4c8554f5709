"""ALBERT's SentencePiece tokenizer, normalising text the way transformers' does."""

import os
import unicodedata

import keras
import numpy as np
import sentencepiece as spm

from albert_demo.models.albert_layers import PACKAGE
from albert_demo.presets.loading import PresetMixin

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

    Example:
    ```python
    tokenizer = AlbertTokenizer.from_preset("albert_tiny_en_uncased")
    ids = tokenizer("The sky is [MASK].")     # np.ndarray of int32
    tokenizer.detokenize(ids)                  # "the sky is [MASK]."
    ```
    """

    def __init__(self, proto, do_lower_case=True, keep_accents=False, name="albert_tokenizer"):
        if isinstance(proto, (str, os.PathLike)):
            with open(proto, "rb") as f:
                proto = f.read()
        if not isinstance(proto, bytes) or not proto:
            raise ValueError("AlbertTokenizer needs a SentencePiece model: a path or bytes.")
        self.proto = proto
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
        """str -> int32 array; list/array of str -> list of int32 arrays."""
        if isinstance(inputs, str):
            return self._encode_one(inputs)
        return [self._encode_one(str(t) if isinstance(t, np.str_) else t) for t in inputs]

    __call__ = tokenize

    def detokenize(self, ids):
        """ids (1-D) -> str; 2-D or list of lists -> list of str. Padding is dropped."""
        arr = ids if isinstance(ids, (list, tuple)) else np.asarray(ids)
        if isinstance(arr, np.ndarray) and arr.ndim == 1 or (
                isinstance(arr, (list, tuple)) and (not arr or np.isscalar(arr[0]))):
            pieces = [self.id_to_token(int(i)) for i in arr if int(i) != self.pad_token_id]
            return self._sp.decode_pieces(pieces) if pieces else ""
        return [self.detokenize(row) for row in arr]

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
        return {"name": self.name, "do_lower_case": self.do_lower_case,
                "keep_accents": self.keep_accents}

    @classmethod
    def from_config(cls, config, proto=None):
        config = {k: v for k, v in config.items()
                  if k in ("name", "do_lower_case", "keep_accents")}
        if proto is None:
            raise ValueError("AlbertTokenizer.from_config needs the SentencePiece proto.")
        return cls(proto=proto, **config)
