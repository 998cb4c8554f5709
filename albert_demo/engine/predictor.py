"""Text in, predictions out: validation, encoding, top-k per mask, joint filling,
candidate scoring and attention maps, all from one compiled forward per request."""

import re
import threading
import unicodedata

import numpy as np

from albert_demo.engine.activity import ServingActivity
from albert_demo.engine.batcher import BusyBatcher
from albert_demo.engine.compiled import BATCH_BUCKETS, CompiledMaskedLM, bucket
from albert_demo.engine.errors import InputError, whole_number
from albert_demo.engine.limits import Limits
from albert_demo.masks import MASK, fill_masks
from albert_demo.engine.salience import CompiledSalience, explain

EXAMPLE = "The sky is [MASK]."
# Tokens one shared forward pass holds at most: 16 texts of up to 16 tokens, 8 of 32, ...
# 1 of 256. Under load a full pass of short texts costs 2.2 ms a row against 3.3 at 4 rows
# (embedded preset, 2 cores), while the wait it adds stays ~35 ms.
SERVING_BATCH_TOKENS = 256


def serving_batch(length):
    """Requests one forward pass serves at most at this sequence bucket."""
    return max(1, SERVING_BATCH_TOKENS // length)


def softmax(logits):
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


# "[mask]", "[Mask]", "[ MASK ]": what people type for the placeholder.
_MASK_SPELLINGS = re.compile(r"\[\s*mask\s*\]", re.IGNORECASE)


def normalise_masks(text):
    """`text` with every spelling of the placeholder ("[mask]", "[Mask]") as "[MASK]"."""
    return _MASK_SPELLINGS.sub(MASK, text)


def clean_text(text, limits):
    """Validate raw text; returns it with tabs/newlines as spaces and "[mask]" in any
    capitals as "[MASK]". Raises InputError."""
    if not isinstance(text, str):
        raise InputError("Text must be a string.")
    if not text.strip():
        raise InputError(f"The text is empty: type a sentence with [MASK], e.g. {EXAMPLE!r}.")
    if len(text) > limits.max_chars:
        raise InputError(f"The text is {len(text):,} characters; at most "
                         f"{limits.max_chars:,} are accepted. Shorten it.")
    bad = sorted({f"U+{ord(c):04X}" for c in text
                  if unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r"})
    if bad:
        raise InputError("The text contains control or invalid characters "
                         f"({', '.join(bad[:5])}); remove them and try again.")
    return normalise_masks(re.sub(r"[\t\r\n]+", " ", text))


class MaskPredictor:
    """Predictions for one loaded preset. Thread-safe; shares one CompiledMaskedLM."""

    def __init__(self, masked_lm, name="model", limits=None, activity=None):
        if masked_lm.preprocessor is None:
            raise ValueError("MaskPredictor needs a model with a preprocessor (tokenizer).")
        self.name = name
        self.masked_lm = masked_lm
        self.tokenizer = masked_lm.preprocessor.tokenizer
        self.compiled = CompiledMaskedLM(masked_lm)
        self.compiled_salience = CompiledSalience(self.compiled)  # compiles on first use
        self.limits = limits or Limits.from_settings()
        # Marked on every forward pass; fine-tuning yields while it is busy.
        self.activity = activity or ServingActivity()
        self.has_pretrained_head = getattr(masked_lm, "has_pretrained_head", True)
        # One fixed k for every request: ranking happens on the device, one program.
        self.rank_k = min(self.limits.max_top_k, self.tokenizer.vocabulary_size())
        self._batchers, self._batchers_lock = {}, threading.Lock()

    def warmup(self, lengths=(16, 32, 64), with_attention=(False, True)):
        """Compile the programs requests will use (ranked top-k, with/without attention),
        and the shared-batch programs for short texts, what people type."""
        self.compiled.warmup(lengths=lengths, with_attention=with_attention, top_k=self.rank_k)
        for length in (t for t in lengths if t <= 32):
            batches = [b for b in BATCH_BUCKETS if 1 < b <= serving_batch(length)]
            self.compiled.warmup(lengths=[length], batches=batches, with_attention=(False,),
                                 top_k=self.rank_k)

    # -- encoding -------------------------------------------------------------------
    def encode(self, text, require_mask=True):
        text = clean_text(text, self.limits)
        n_masks = text.count(MASK)
        if require_mask and n_masks == 0:
            raise InputError(f"No [MASK] token found: add at least one, e.g. {EXAMPLE!r}.")
        if n_masks > self.limits.max_masks:
            raise InputError(f"The text has {n_masks} [MASK] tokens; at most "
                             f"{self.limits.max_masks} are allowed per request.")
        tok = self.tokenizer
        ids = np.concatenate([[tok.cls_token_id], tok(text), [tok.sep_token_id]]).astype(
            "int32")
        limit = self.compiled.max_length
        if len(ids) > limit:
            raise InputError(f"The text is {len(ids) - 2} tokens long; this model reads at "
                             f"most {limit - 2}. Shorten it (nothing was cut).")
        positions = np.flatnonzero(ids == tok.mask_token_id).astype("int32")
        return text, ids, positions

    def tokens(self, ids):
        return [self.tokenizer.id_to_token(int(i)) for i in ids]

    def _check_top_k(self, top_k):
        top_k = whole_number(top_k, "top_k")
        if not 1 <= top_k <= self.limits.max_top_k:
            raise InputError(f"top_k must be between 1 and {self.limits.max_top_k}.")
        return top_k

    def _ranked_on_device(self, probs, ids, top_k):
        return [{"token": self.tokenizer.token_text(int(i)), "token_id": int(i),
                 "score": float(p)} for p, i in zip(probs[:top_k], ids[:top_k])]

    def _forward_ranked(self, batch, with_attention=False):
        """batch: list of (ids, positions) -> ((probs, ids) each (rows, masks, k), attention)."""
        self.activity.mark()
        (probs, ids), attention = self.compiled(
            [ids for ids, _ in batch], [np.zeros_like(ids) for ids, _ in batch],
            [pos for _, pos in batch], with_attention, top_k=self.rank_k)
        return probs, ids, attention

    def _forward(self, batch, with_attention=False):
        """batch: list of (ids, positions) -> (probs per row (masks, V), attention)."""
        self.activity.mark()
        logits, attention = self.compiled([ids for ids, _ in batch],
                                          [np.zeros_like(ids) for ids, _ in batch],
                                          [pos for _, pos in batch], with_attention)
        probs = [softmax(logits[row, :len(pos)].astype("float64"))
                 for row, (_, pos) in enumerate(batch)]
        return probs, attention

    # -- public API -----------------------------------------------------------------
    def predict(self, text, top_k=5, with_attention=False):
        """Independent top-k for every mask: the /predict JSON (plus attention if asked).

        Without attention, requests that arrive together share one forward pass."""
        if with_attention:
            return self.predict_batch([text], top_k, with_attention)[0]
        top_k = self._check_top_k(top_k)
        text, ids, positions = self.encode(text)
        probs, token_ids = self._batched(ids, positions)
        return self._independent(text, positions, probs, token_ids, top_k)

    def _batched(self, ids, positions):
        """(probs, ids) ranked for one text, run with whatever else waits at its length."""
        length = bucket(len(ids), self.compiled.sequence_buckets)
        with self._batchers_lock:
            batcher = self._batchers.get(length)
            if batcher is None:
                batcher = self._batchers[length] = BusyBatcher(self._ranked_rows,
                                                               serving_batch(length))
        return batcher((ids, positions))

    def batching(self):
        """(requests, forward passes) served by the shared batches so far: their ratio is
        how many requests a pass carried on average."""
        with self._batchers_lock:
            batchers = list(self._batchers.values())
        return (sum(b.requests for b in batchers), sum(b.batches for b in batchers))

    def _ranked_rows(self, items):
        probs, token_ids, _ = self._forward_ranked(items)
        return [(probs[row], token_ids[row]) for row in range(len(items))]

    def _independent(self, text, positions, probs, token_ids, top_k):
        masks = [{"index": int(pos), "predictions": self._ranked_on_device(
            probs[m], token_ids[m], top_k)} for m, pos in enumerate(positions)]
        return {"masks": masks, "filled_text": fill_masks(
            text, [m["predictions"][0]["token"] for m in masks]), "mode": "independent"}

    def predict_batch(self, texts, top_k=5, with_attention=False):
        top_k = self._check_top_k(top_k)
        encoded = [self.encode(t) for t in texts]
        probs, token_ids, attention = self._forward_ranked(
            [(ids, pos) for _, ids, pos in encoded], with_attention)
        results = []
        for row, (text, ids, positions) in enumerate(encoded):
            result = self._independent(text, positions, probs[row], token_ids[row], top_k)
            if with_attention:
                result["tokens"] = self.tokens(ids)
                result["attention"] = attention[:, row, :, :len(ids), :len(ids)]
            results.append(result)
        return results

    def predict_joint(self, text, top_k=5):
        """Fill masks one at a time, most confident first, re-predicting after each fill."""
        top_k = self._check_top_k(top_k)
        text, ids, positions = self.encode(text)
        ids = ids.copy()
        remaining = list(range(len(positions)))
        chosen = {}
        order = []
        while remaining:
            pos = positions[remaining]
            probs, token_ids, _ = self._forward_ranked([(ids, pos)])
            best = max(range(len(remaining)), key=lambda j: probs[0, j, 0])
            m = remaining.pop(best)
            chosen[m] = self._ranked_on_device(probs[0, best], token_ids[0, best], top_k)
            ids[positions[m]] = chosen[m][0]["token_id"]
            order.append(m)
        masks = [{"index": int(positions[m]), "predictions": chosen[m],
                  "fill_order": order.index(m) + 1} for m in range(len(positions))]
        return {"masks": masks, "filled_text": fill_masks(
            text, [chosen[m][0]["token"] for m in range(len(positions))]), "mode": "joint"}

    def score_candidates(self, text, candidates):
        """Probability of each candidate word at each mask (first piece of the word)."""
        if not isinstance(candidates, str):
            if not isinstance(candidates, (list, tuple)) or not all(
                    isinstance(w, str) for w in candidates):
                raise InputError("candidates must be comma-separated words or a list of words.")
            candidates = ",".join(candidates)
        words = [w.strip() for w in candidates.split(",") if w.strip()]
        if not words:
            raise InputError("Give at least one candidate word, e.g. 'blue, grey'.")
        if len(words) > self.limits.max_candidates:
            raise InputError(f"At most {self.limits.max_candidates} candidates are allowed.")
        text, ids, positions = self.encode(text)
        probs, _ = self._forward([(ids, positions)])
        scored = []
        for word in words:
            pieces = self.tokenizer(word)
            if not len(pieces):
                continue
            first = int(pieces[0])
            scored.append({"word": word, "token": self.tokenizer.id_to_token(first),
                           "whole_word": len(pieces) == 1,
                           "scores": [float(probs[0][m][first])
                                      for m in range(len(positions))]})
        return {"masks": [int(p) for p in positions], "candidates": scored}

    def attention(self, text):
        """Tokens and attention maps (applied layers, heads, T, T) for any text."""
        text, ids, positions = self.encode(text, require_mask=False)
        if not len(positions):
            positions = np.zeros(1, "int32")
        _, _, attention = self._forward_ranked([(ids, positions)], with_attention=True)
        return {"tokens": self.tokens(ids), "mask_indices": [int(p) for p in positions
                                                             if ids[p] == self.tokenizer
                                                             .mask_token_id],
                "attention": attention[:, 0, :, :len(ids), :len(ids)]}

    def salience(self, text, mask_ordinal=0, token="", method="integrated_gradients",
                 steps=None, token_id=None):
        """Attributions of one mask's word to every input token: the /salience JSON
        (see albert_demo.engine.salience)."""
        self.activity.mark()
        return explain(self, text, mask_ordinal, token, method, steps, token_id)

    def distributions(self, text):
        """The full probability distribution over the vocabulary at every mask."""
        text, ids, positions = self.encode(text)
        probs, _ = self._forward([(ids, positions)])
        return {"tokens": self.tokens(ids), "mask_indices": [int(p) for p in positions],
                "probs": probs[0]}
