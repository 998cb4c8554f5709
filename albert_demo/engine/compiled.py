"""One jit-compiled forward per (batch bucket, sequence bucket, with/without attention).

Requests are padded up to their bucket, so after warm-up no request compiles again.
`trace_count` counts traces (each one is a compilation) so tests can assert it.
"""

import logging
import os
import threading

import jax
import numpy as np

from albert_demo import settings

log = logging.getLogger("albert_demo.engine")

SEQUENCE_BUCKETS = (16, 32, 64, 128, 256, 512)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


def configure_compilation_cache(folder=None):
    """Keep compiled programs across restarts (JAX's persistent compilation cache)."""
    folder = str(folder or settings.current().compilation_cache)
    try:
        os.makedirs(folder, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except (OSError, AttributeError) as error:  # read-only disk: run without the cache
        log.warning("persistent compilation cache disabled: %s", error)
        return None
    return folder


def bucket(value, buckets):
    for b in buckets:
        if value <= b:
            return b
    raise ValueError(f"{value} is above the largest bucket {buckets[-1]}.")


class CompiledMaskedLM:
    """Holds a model's weights as device arrays and its compiled forward programs."""

    def __init__(self, masked_lm):
        self.masked_lm = masked_lm
        self.max_length = masked_lm.backbone.max_sequence_length
        self.sequence_buckets = tuple(b for b in SEQUENCE_BUCKETS if b < self.max_length) + (
            self.max_length,)
        self.trainable = [v.value for v in masked_lm.trainable_variables]
        self.non_trainable = [v.value for v in masked_lm.non_trainable_variables]
        self.on_accelerator = jax.default_backend() != "cpu"
        self.trace_count = 0
        self.traced_shapes = []
        self._lock = threading.Lock()
        self._forward = jax.jit(self._forward_impl,
                                static_argnames=("with_attention", "top_k"))

    def refresh_weights(self):
        """Re-read weights after training (no recompilation: shapes are unchanged)."""
        self.trainable = [v.value for v in self.masked_lm.trainable_variables]
        self.non_trainable = [v.value for v in self.masked_lm.non_trainable_variables]

    def _forward_impl(self, trainable, non_trainable, inputs, with_attention, top_k):
        # Runs only while tracing: count and log every compilation.
        with self._lock:
            self.trace_count += 1
            shape = (inputs["token_ids"].shape, inputs["mask_positions"].shape,
                     with_attention, top_k)
            self.traced_shapes.append(shape)
        log.info("compiling forward for token_ids %s, masks %s, attention=%s, top_k=%s",
                 *shape)
        outputs, _ = self.masked_lm.stateless_call(
            trainable, non_trainable, inputs, return_attention=with_attention)
        logits, attention = ((outputs["logits"], outputs["attention_probs"])
                             if with_attention else (outputs, None))
        if top_k:  # rank on the device: only k probabilities per mask cross to the host
            probs = jax.nn.softmax(logits.astype("float32"), axis=-1)
            logits = jax.lax.top_k(probs, top_k)
        return logits, attention

    def padded_shape(self, batch, length, masks):
        return (bucket(batch, BATCH_BUCKETS), bucket(length, self.sequence_buckets),
                bucket(max(masks, 1), (4, 8, 16, 32, 64, 128, 512)))

    def __call__(self, token_ids, segment_ids, mask_positions, with_attention=False,
                 top_k=None):
        """Unpadded numpy in -> (logits, attention|None) for the real rows only.

        token_ids/segment_ids: list of 1-D int arrays; mask_positions: list of 1-D arrays.
        With `top_k`, the first result is `(probabilities, token_ids)` of the k most likely
        tokens per mask, ranked on the device, instead of the full logits.
        """
        batch = len(token_ids)
        length = max(len(t) for t in token_ids)
        masks = max(len(m) for m in mask_positions)
        b, t, m = self.padded_shape(batch, length, masks)
        ids = np.zeros((b, t), "int32")
        seg = np.zeros((b, t), "int32")
        pad = np.zeros((b, t), "int32")
        pos = np.zeros((b, m), "int32")
        for row in range(batch):
            n = len(token_ids[row])
            ids[row, :n] = token_ids[row]
            seg[row, :n] = segment_ids[row]
            pad[row, :n] = 1
            pos[row, :len(mask_positions[row])] = mask_positions[row]
        pad[batch:, 0] = 1  # filler rows: one visible token keeps softmax finite
        inputs = {"token_ids": ids, "segment_ids": seg, "padding_mask": pad,
                  "mask_positions": pos}
        logits, attention = self._forward(self.trainable, self.non_trainable, inputs,
                                          with_attention=with_attention, top_k=top_k)
        if top_k:  # small already: slice on the host
            logits = tuple(np.asarray(a)[:batch, :masks] for a in logits)
        elif self.on_accelerator:  # full logits over PCIe: send only real rows and masks
            logits = np.asarray(logits[:batch, :masks])
        else:
            logits = np.asarray(logits)[:batch, :masks]
        if attention is not None:
            attention = np.asarray(attention)[:, :batch]
        return logits, attention

    def warmup(self, lengths=(16, 32, 64), batches=(1,), with_attention=(False, True),
               top_k=None):
        for b in batches:
            for t in lengths:
                for a in with_attention:
                    self([np.zeros(min(t, self.max_length), "int32")] * b,
                         [np.zeros(min(t, self.max_length), "int32")] * b,
                         [np.zeros(1, "int32")] * b, with_attention=a, top_k=top_k)
