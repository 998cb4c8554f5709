"""The pieces `FinetuneJob` hands to `AlbertMaskedLM.fit`: full batches and a monitor
callback (progress, cancel, limits, divergence, checkpoints, yielding to serving)."""

import copy
import math
import time

import keras
import numpy as np

from albert_demo import settings
from albert_demo.models.albert_masked_lm import PreprocessedBatches

YIELD_MAX_SECONDS = 5.0


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


class DivergenceWatch:
    """Says when training is going wrong: a loss that is not a number, or a loss that,
    averaged over the last `window` steps, rose well above the best such average so far
    (by more than `min_rise` and more than `relative_rise` of it, so the noise of single
    steps does not count). `reference`, the base model's validation loss, also catches a
    loss that jumps within the first window; it is a different sample from the training
    batches, so it allows twice the rise. `add(loss)` -> None, or a sentence for the
    person."""

    def __init__(self, reference=None, window=20, min_rise=1.0, relative_rise=0.25):
        self.window, self.min_rise, self.relative_rise = window, min_rise, relative_rise
        self.reference = reference if reference is not None and math.isfinite(
            reference) else None
        self.best = None
        self.recent = []

    def _risen(self, mean, start, factor=1):
        return mean - start > factor * max(self.min_rise, self.relative_rise * start)

    def add(self, loss):
        if not math.isfinite(loss):
            return f"the loss became {loss} (not a number)"
        self.recent = (self.recent + [loss])[-self.window:]
        if len(self.recent) < self.window:
            return None
        mean = float(np.mean(self.recent))
        for start, factor in ((self.best, 1), (self.reference, 2)):
            if start is not None and self._risen(mean, start, factor):
                return (f"the loss rose from {start:.2f} to {mean:.2f} (average of the last "
                        f"{self.window} steps)")
        self.best = mean if self.best is None else min(self.best, mean)
        return None


class FinetuneMonitor(keras.callbacks.Callback):
    """Per step: report (step, loss, tokens/s, eta), checkpoint (`save_checkpoint(model,
    step)`), and stop on cancel, divergence, step limit or deadline. `stop_reason` is
    None when training ran to `total_steps` ("diverged": `divergence` says how). While
    `serving` (a ServingActivity) is busy, pause after each step for `yield_factor`
    times its duration (default `ALBERT_DEMO_TRAINING_YIELD`, 3: training keeps ~25% of
    the CPU; 0 turns yielding off)."""

    def __init__(self, total_steps, tokens_per_step, report, should_cancel=lambda: False,
                 checkpoint_every=0, save_checkpoint=None, deadline=None, serving=None,
                 yield_factor=None, watch=None):
        super().__init__()
        self.total_steps, self.tokens_per_step = total_steps, tokens_per_step
        self.report, self.should_cancel = report, should_cancel
        self.checkpoint_every, self.save_checkpoint = checkpoint_every, save_checkpoint
        self.deadline = deadline
        self.serving = serving
        self.yield_factor = (settings.current().training_yield if yield_factor is None
                             else yield_factor)
        self.watch = watch or DivergenceWatch()
        self.step, self.stop_reason, self.last_checkpoint = 0, None, None
        self.divergence = None
        self._previous_mean = 0.0
        self._first_step_end = None
        self._last_step_end = None

    def on_epoch_begin(self, epoch, logs=None):
        self._previous_mean = 0.0

    def _yield_to_serving(self):
        """While predictions are being served, pause after each step for yield_factor
        times the step's duration (answers stay fast; training slows down meanwhile)."""
        now = time.monotonic()
        last_end, self._last_step_end = self._last_step_end, now
        if (last_end is not None and self.serving is not None and self.yield_factor
                and self.serving.busy()):
            time.sleep(min(self.yield_factor * (now - last_end), YIELD_MAX_SECONDS))
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
        self.divergence = self.watch.add(loss)
        if self.should_cancel():
            self.stop_reason = "cancelled"
        elif self.divergence:
            self.stop_reason = "diverged"
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
