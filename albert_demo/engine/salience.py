"""Token salience: why the model gives a word its probability at one [MASK].

Attributions of log p(target | text) at one mask position to every input token, from the
gradient with respect to the input token embeddings (the `E`-wide vectors the embedding
table looks up, before positions, segments and LayerNorm are added):

- **integrated gradients** (Sundararajan et al., 2017): the gradient averaged along the
  straight line from a baseline to the input, times (input - baseline), summed over the
  embedding dimensions. Trapezoid rule over `steps` intervals (`steps + 1` points).
- **gradient x input**: the gradient at the input, times the input, summed likewise.

Baseline: every token that is not special ([CLS], [SEP], [MASK], padding) has its
embedding replaced by the [MASK] embedding; positions and segments are unchanged. The
model was trained to read [MASK] as "a word is here, but you are not told which", so the
baseline is a sentence the model has seen the like of (all words hidden) rather than the
off-distribution zero or padding vectors, and IG's answer reads "what the words added over
knowing only the sentence's length and where the mask is". The target mask and any other
masks are the same in input and baseline, so their IG attribution is exactly 0.

Completeness (IG's defining property): the attributions add up to
log p(target | text) - log p(target | baseline); `completeness_error` reports how far the
numerical integral is from it, relative to that difference (at least 0.01 nats). Gradient x
input makes no such promise (it is a first-order, zero-baseline view); its
`completeness_error` is reported the same way for comparison and is typically large.

Cost: one jitted program per (sequence bucket, steps) computes every interpolation point
as one batch of `steps + 1` rows, forward and backward together, the last layer only at
the mask (an exact saving: nothing else reads it), and reduces to per-token attributions on
the device; `trace_count` counts compilations as in `compiled.py`. Gradient x input uses
the `steps = 0` program: the gradient at the input only, and a forward pass (no gradient)
for the baseline's log-probability.

A word of several pieces is scored by its first piece, as `score_candidates` does (the
mask holds one piece; a bare word-start piece "▁" is skipped, it carries no letters); the
result lists the pieces and says which one was explained.
"""

import logging
import threading

import jax
import jax.numpy as jnp
import keras
import numpy as np
from keras import ops

from albert_demo.engine.compiled import bucket
from albert_demo.engine.errors import InputError, whole_number

log = logging.getLogger("albert_demo.engine")

METHODS = ("integrated_gradients", "gradient_x_input")
DEFAULT_STEPS = 32
MAX_STEPS = 256


def trapezoid(steps):
    """Interpolation points 0..1 and their trapezoid weights for `steps` intervals."""
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype="float32")
    weights = np.full(steps + 1, 1.0 / steps, "float32")
    weights[[0, -1]] /= 2
    return alphas, weights


def log_probs_from_vectors(masked_lm, vectors, segment_ids, padding_mask, mask_position):
    """log-softmax at one mask per row, from token embedding vectors instead of ids.

    vectors (rows, T, E); segment_ids/padding_mask (rows, T); mask_position (rows, 1).
    Returns (rows, V). The same computation as `AlbertMaskedLM.call` after the embedding
    lookup (tests check it against the model's own logits). Call inside a StatelessScope
    to run it on given weights.
    """
    backbone = masked_lm.backbone
    emb = backbone.embeddings
    seq_len = ops.shape(vectors)[1]
    x = vectors + ops.expand_dims(emb.position_embeddings[:seq_len], 0)
    x = x + ops.take(emb.segment_embeddings, segment_ids, axis=0)
    x = emb.projection(emb.layer_norm(x))
    key_mask = ops.cast(padding_mask, "bool")[:, None, None, :]
    key_mask = ops.broadcast_to(key_mask, (ops.shape(x)[0], 1, seq_len, seq_len))
    layers = backbone.applied_layers()
    for depth, layer in enumerate(layers):
        last = depth == len(layers) - 1
        x, _ = layer(x, key_mask, query_positions=mask_position if last else None)
    logits = masked_lm.masked_lm_head(x, None, backbone.token_embedding)  # (rows, 1, V)
    return jax.nn.log_softmax(logits[:, 0].astype("float32"), axis=-1)


class CompiledSalience:
    """Attribution programs for one model, sharing the weights of a CompiledMaskedLM."""

    def __init__(self, compiled):
        self.compiled = compiled
        self.masked_lm = compiled.masked_lm
        tokenizer = getattr(self.masked_lm.preprocessor, "tokenizer", None)
        self.mask_token_id = tokenizer.mask_token_id if tokenizer else 4
        self.trace_count = 0
        self.traced_shapes = []
        self._lock = threading.Lock()
        self._attribute = jax.jit(self._attribute_impl, static_argnames=("steps",))

    def _attribute_impl(self, trainable, non_trainable, token_ids, segment_ids, padding_mask,
                        interpolate, mask_position, target, steps):
        with self._lock:  # runs only while tracing: count every compilation
            self.trace_count += 1
            self.traced_shapes.append((token_ids.shape, steps))
        log.info("compiling salience for token_ids %s, %s steps", token_ids.shape, steps)
        model = self.masked_lm
        mapping = list(zip(model.trainable_variables, trainable)) + list(
            zip(model.non_trainable_variables, non_trainable))
        with keras.StatelessScope(state_mapping=mapping):
            table = ops.convert_to_tensor(model.backbone.token_embedding)
            inputs = jnp.take(table, token_ids, axis=0)                      # (T, E)
            baseline = jnp.where(interpolate[:, None], table[self.mask_token_id], inputs)

            def log_probs_at(vectors):
                rows = vectors.shape[0]
                return log_probs_from_vectors(
                    model, vectors, jnp.broadcast_to(segment_ids, (rows,) + token_ids.shape),
                    jnp.broadcast_to(padding_mask, (rows,) + token_ids.shape),
                    jnp.broadcast_to(mask_position, (rows, 1)))

            def total(vectors):
                log_probs = log_probs_at(vectors)
                # target < 0: the model's best word at the input (the last row, alpha 1).
                best = jnp.argmax(jax.lax.stop_gradient(log_probs[-1]))
                chosen = jnp.where(target >= 0, target, best)
                per_row = log_probs[:, chosen]
                # Rows are independent, so the gradient of the sum is every row's own.
                return per_row.sum(), (per_row, chosen)

            if steps:  # integrated gradients: the trapezoid rule's points, alpha 0 .. 1
                alphas, weights = trapezoid(steps)
            else:  # gradient x input alone: the gradient at the input only
                alphas, weights = np.ones(1, "float32"), np.ones(1, "float32")
            vectors = baseline + alphas[:, None, None] * (inputs - baseline)  # (rows, T, E)
            (_, (per_row, chosen)), grads = jax.value_and_grad(total, has_aux=True)(vectors)
            integrated = jnp.einsum("r,rte,te->t", weights, grads, inputs - baseline)
            gradient_x_input = jnp.einsum("te,te->t", grads[-1], inputs)
            # The baseline's log p: the first row, or (steps 0) one forward pass, no gradient.
            base = per_row[0] if steps else log_probs_at(baseline[None])[0, chosen]
        return integrated, gradient_x_input, per_row[-1], base, chosen

    def __call__(self, token_ids, interpolate, mask_position, target=-1,
                 steps=DEFAULT_STEPS):
        """Unpadded ids (T,), bool (T,) -> attributions for the real tokens (numpy).
        steps: trapezoid intervals for integrated gradients; 0: gradient x input only.

        Returns (integrated (T,), gradient_x_input (T,), log_prob, baseline_log_prob,
        target_id).
        """
        n = len(token_ids)
        t = bucket(n, self.compiled.sequence_buckets)
        ids = np.zeros(t, "int32")
        ids[:n] = token_ids
        pad = np.zeros(t, "int32")
        pad[:n] = 1
        keep = np.zeros(t, bool)
        keep[:n] = interpolate
        integrated, gxi, log_prob, base_log_prob, chosen = self._attribute(
            self.compiled.trainable, self.compiled.non_trainable, ids, np.zeros(t, "int32"),
            pad, keep, np.int32(mask_position), np.int32(target), steps=int(steps))
        return (np.asarray(integrated)[:n].astype("float64"),
                np.asarray(gxi)[:n].astype("float64"), float(log_prob),
                float(base_log_prob), int(chosen))

    def warmup(self, lengths=(16, 32), steps=(DEFAULT_STEPS, 0)):
        for t in lengths:
            t = min(t, self.compiled.max_length)
            for s in steps:
                self(np.full(t, self.mask_token_id, "int32"), np.zeros(t, bool), 0, -1, s)


def resolve_target(tokenizer, token):
    """A typed word -> (first piece id, pieces). Raises InputError for unknown words."""
    if not isinstance(token, str):
        raise InputError(f"token must be a word (text), not {type(token).__name__}.")
    word = token.strip()
    if " " in word:
        raise InputError(f"token must be one word; got {word!r}. A mask holds one word "
                         "(or its first piece).")
    if word.upper() in ("[MASK]", "[CLS]", "[SEP]", "<PAD>", "<UNK>"):
        raise InputError(f"{word!r} is a special token, not a word the model predicts.")
    pieces = [int(i) for i in tokenizer(word)]
    if tokenizer.unk_token_id in pieces:
        raise InputError(f"{word!r} is not in this model's vocabulary (the tokenizer "
                         "cannot spell it from its pieces); try another word.")
    # A bare word-start marker ("▁" before a rare first letter) says nothing of the word.
    meaningful = [p for p in pieces if tokenizer.id_to_token(p) != "\u2581"]
    if not meaningful:
        raise InputError(f"{word!r} has no letters the tokenizer keeps; type a word.")
    return meaningful[0], pieces


def explain(predictor, text, mask_ordinal=0, token="", method="integrated_gradients",
            steps=None, token_id=None):
    """Salience of one mask's target for a MaskPredictor: the /salience JSON.

    mask_ordinal: which [MASK] (0 = first); token: the word to explain ("" = the model's
    best); token_id: a vocabulary id instead of a word (e.g. a clicked candidate, which
    may be a piece that is not a word start); method: one of METHODS.
    """
    if method not in METHODS:
        raise InputError(f"Unknown method {method!r}: use one of {', '.join(METHODS)}.")
    if method == "gradient_x_input":
        steps = 0  # the program with one gradient row (the input)
    else:
        steps = DEFAULT_STEPS if steps is None else whole_number(steps, "steps")
        if not 1 <= steps <= MAX_STEPS:
            raise InputError(f"steps must be between 1 and {MAX_STEPS}.")
    mask_ordinal = whole_number(mask_ordinal, "mask_ordinal")
    text, ids, positions = predictor.encode(text)
    if not 0 <= mask_ordinal < len(positions):
        raise InputError(f"mask_ordinal {mask_ordinal} is out of range: the text has "
                         f"{len(positions)} [MASK] token(s), numbered from 0.")
    tokenizer = predictor.tokenizer
    pieces = None
    target = -1
    if token_id is not None:
        target = whole_number(token_id, "token_id")
        if not 0 <= target < tokenizer.vocabulary_size():
            raise InputError(f"token_id {target} is outside the vocabulary "
                             f"(0..{tokenizer.vocabulary_size() - 1}).")
    elif token is not None and str(token).strip():
        target, pieces = resolve_target(tokenizer, token)
    interpolate = ~np.isin(ids, tokenizer.special_token_ids)
    integrated, gxi, log_prob, base_log_prob, target = predictor.compiled_salience(
        ids, interpolate, positions[mask_ordinal], target, steps)
    attributions = integrated if method == "integrated_gradients" else gxi
    change = log_prob - base_log_prob
    error = abs(float(attributions.sum()) - change) / max(abs(change), 0.01)
    result = {
        "tokens": predictor.tokens(ids),
        "attributions": [float(a) for a in attributions],
        "method": method,
        "steps": steps if method == "integrated_gradients" else None,
        "baseline": "every non-special token's embedding replaced by the [MASK] embedding",
        "mask_ordinal": mask_ordinal,
        "mask_index": int(positions[mask_ordinal]),
        "target": {"token": tokenizer.token_text(target), "token_id": target,
                   "log_prob": log_prob},
        "baseline_log_prob": base_log_prob,
        "completeness_error": error,
    }
    if pieces is not None:
        result["pieces"] = [tokenizer.id_to_token(p) for p in pieces]
        if len(pieces) > 1:
            result["note"] = (f"{token.strip()!r} is {len(pieces)} pieces; the mask holds "
                              f"one, so its first piece {tokenizer.id_to_token(target)!r} "
                              "is explained.")
    return result
