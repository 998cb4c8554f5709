"""The pieces `FinetuneJob` hands to `AlbertMaskedLM.fit`: full batches and a monitor
callback (progress, cancel, limits, checkpoints)."""

import copy
import math
import os
import time

import keras
import numpy as np

from albert_demo.models.albert_masked_lm import PreprocessedBatches


YIELD_MAX_SECONDS = 5.0
# While predictions are being served, training pauses this many times its step time after
# each step (3: training keeps ~25% of the CPU). 0 turns yielding off.
YIELD_FACTOR = float(os.environ.get("ALBERT_DEMO_TRAINING_YIELD", 3))


LENGTH_BUCKETS = (16, 32, 64, 128, 256, 512)


class FullBatches(PreprocessedBatches):
    """Token-id passages in full batches only (splits evenly over devices), reshuffled
    and re-masked every epoch by the seeded preprocessor.

    Each batch is packed to the shortest length bucket its longest passage fits (at most
    the preprocessor's sequence_length), with masks in proportion: uploads are mostly
    short lines, and padding them all to 128 tokens made most of every step padding. Padded
    keys are masked out, so a passage's loss does not depend on its bucket; each bucket
    compiles the training step once."""

    def __init__(self, token_ids, preprocessor, batch_size, seed, buckets=LENGTH_BUCKETS):
        token_ids = list(token_ids)
        if not token_ids:
            raise ValueError("No training passages.")
        if len(token_ids) < batch_size:  # a tiny upload still fills one batch
            token_ids = (token_ids * math.ceil(batch_size / len(token_ids)))[:batch_size]
        super().__init__(token_ids, preprocessor, batch_size, shuffle=True, seed=seed)
        limit = preprocessor.sequence_length
        self.buckets = sorted({min(b, limit) for b in buckets} | {limit})
        self._packers = {}
        # Real (non-padding) tokens per step, for an honest tokens/s.
        self.tokens_per_step = batch_size * float(np.mean(
            [min(len(ids) + 2, limit) for ids in token_ids]))

    def __len__(self):
        return self.count // self.batch_size

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        batch = [self.x[i] for i in rows]
        return self._packer_for(max(len(ids) for ids in batch) + 2)(batch)

    def _packer_for(self, needed):
        length = next(b for b in self.buckets if b >= min(needed, self.buckets[-1]))
        packer = self._packers.get(length)
        if packer is None:  # a view of the preprocessor: same tokenizer, same seeded rng
            base = self.preprocessor
            packer = copy.copy(base)
            packer.sequence_length = length
            packer.mask_selection_length = min(
                base.mask_selection_length,
                math.ceil(length * base.mask_selection_rate) + 1)
            self._packers[length] = packer
        return packer


class FinetuneMonitor(keras.callbacks.Callback):
    """Per step: report (step, loss, tokens/s, eta), checkpoint (`save_checkpoint(model,
    step)`), and stop on cancel, step limit or deadline. `stop_reason` is None when
    training ran to `total_steps`."""

    def __init__(self, total_steps, tokens_per_step, report, should_cancel=lambda: False,
                 checkpoint_every=0, save_checkpoint=None, deadline=None):
        super().__init__()
        self.total_steps, self.tokens_per_step = total_steps, tokens_per_step
        self.report, self.should_cancel = report, should_cancel
        self.checkpoint_every, self.save_checkpoint = checkpoint_every, save_checkpoint
        self.deadline = deadline
        self.step, self.stop_reason, self.last_checkpoint = 0, None, None
        self._previous_mean = 0.0
        self._first_step_end = None

    def on_epoch_begin(self, epoch, logs=None):
        self._previous_mean = 0.0

    def _yield_to_serving(self):
        """While predictions are being served, pause after each step for YIELD_FACTOR
        times the step's duration (answers stay fast; training slows down meanwhile)."""
        from albert_demo.engine.predictor import last_request_time
        now = time.monotonic()
        last_end = getattr(self, "_last_step_end", None)
        self._last_step_end = now
        if last_end is not None and now - last_request_time[0] < 1.0:
            time.sleep(min(YIELD_FACTOR * (now - last_end), YIELD_MAX_SECONDS))
            self._last_step_end = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self._yield_to_serving()
        # keras reports the epoch's running mean; recover this step's own loss.
        mean = float(logs["loss"])
        loss = (batch + 1) * mean - batch * self._previous_mean
        self._previous_mean = mean
        now = time.time()
        tokens_per_s = eta = None
        if self._first_step_end is None:  # the first step includes compilation
            self._first_step_end = now
        elif now > self._first_step_end:
            steps_per_s = (self.step - 1) / (now - self._first_step_end)
            tokens_per_s = steps_per_s * self.tokens_per_step
            eta = (self.total_steps - self.step) / steps_per_s
        self.report(self.step, loss, tokens_per_s, eta)
        if self.should_cancel():
            self.stop_reason = "cancelled"
        elif self.deadline is not None and now > self.deadline:
            self.stop_reason = "time limit"
        if self.step >= self.total_steps or self.stop_reason:
            self.model.stop_training = True
        elif (self.checkpoint_every and self.save_checkpoint
              and self.step % self.checkpoint_every == 0):
            # `self.model` (not a captured reference) syncs JAX's training state into
            # the variables first.
            self.save_checkpoint(self.model, self.step)
            self.last_checkpoint = self.step
