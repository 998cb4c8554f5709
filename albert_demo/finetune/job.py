"""One fine-tuning run in a background thread (or a process it supervises, see
`isolation.py`): queue -> load -> evaluate -> fit -> evaluate -> probes -> publish a
preset and a zip. Progress is read with `snapshot()`.

Example:
```python
settings = FinetuneSettings(name="legal-v1", steps=200)
job = FinetuneJob(settings, passages, owner=session_id, data_dir="data").start()
job.progress.snapshot()    # {"status": "training", "step": 17, "loss": 3.2, ...}
job.cancel()               # stops within a step and publishes nothing
job.cancel(keep=True)      # ... or publishes what was trained so far
result = job.wait()        # before/after metrics, probes, preset folder, zip
```
"""

import dataclasses
import errno
import json
import logging
import math
import os
import shutil
import threading
import time
import traceback
import uuid
from pathlib import Path

from albert_demo.errors import UserError
from albert_demo.finetune.checkpoints import (check_free_space, checkpoint_step,
                                              latest_checkpoint, save_checkpoint)
from albert_demo.finetune.data import FinetuneDataError, split_passages
from albert_demo.finetune.isolation import SPAWN, run_in_process
from albert_demo.finetune.manifest import (RUN_FILE, TEXTS_FILE, mark_run, read_run,
                                           read_texts, write_json)
from albert_demo.finetune.memory import check_memory
from albert_demo.finetune.probes import default_probes, predict_probes
from albert_demo.finetune.progress import FinetuneProgress
from albert_demo.finetune.queue import default_queue
from albert_demo.finetune.registry import PREFIX, FinetunedRegistry
from albert_demo.finetune.settings import FinetuneSettings

log = logging.getLogger("albert_demo.finetune")

# Fewer masked tokens than this in the validation split: before/after accuracies are
# mostly chance (one token moves top-1 by 2 points or more).
MIN_VALIDATION_MASKS = 50


def steps_text(n):
    return f"{n} step" if n == 1 else f"{n} steps"


def lower_thread_priority(niceness=19):
    """Run this thread (loading, compiling and dispatching the training) at the lowest CPU
    priority, so people waiting for predictions go first. Linux sets it per thread."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):  # not Linux, or not allowed: run as is
        pass


class FinetuneJob:
    """One training run in a thread, or in a child process the thread supervises. Its
    folder keeps a manifest and the texts beside atomic checkpoints (`manifest.py`), so a
    run a restart interrupted can continue from its last checkpoint
    (`FinetuneJob.resume`). `serving` (a ServingActivity, default the model cache's) tells
    the training when to yield the CPU to predictions."""

    def __init__(self, settings, passages, owner, data_dir, models=None, queue=None,
                 serving=None, run_id=None, resume_from=None, resumed=None,
                 isolation="thread", signals=None):
        """isolation: "thread" trains in this process; "process" in a child process at
        nice 19 (`isolation.py`). signals: the (cancel, keep) pair a child shares with its
        parent's job."""
        if isolation not in ("thread", "process"):
            raise ValueError(f"isolation must be 'thread' or 'process', not {isolation!r}")
        self.settings = settings.checked()
        self.passages = [p for p in passages if p and p.strip()]
        self.train_texts, self.valid_texts = split_passages(
            self.passages, self.settings.validation_share, self.settings.seed)
        self.owner, self.data_dir, self.isolation = owner, data_dir, isolation
        self.registry = FinetunedRegistry(data_dir)
        self.models = models
        self.queue = queue
        self.serving = serving if serving is not None else getattr(models, "activity", None)
        self.id = run_id or uuid.uuid4().hex[:12]
        self.run_dir = self.registry.run_dir(owner, self.id)
        # Resuming: the checkpoint to load, its step, and the first run's manifest.
        self.resume_from, self.resumed = resume_from, resumed
        self.step_offset = checkpoint_step(resume_from) if resume_from else 0
        self.progress = FinetuneProgress()
        # Process-shared, so the same job object can hand them to a training process.
        self._cancel, self._keep_flag = signals or (SPAWN.Event(), SPAWN.Value("b", 0))
        self._thread = None
        self.process = None  # the training process, when isolation is "process"

    @classmethod
    def resume(cls, run_dir, owner, data_dir, models=None, queue=None, serving=None,
               isolation="thread"):
        """A job that continues an interrupted run from its newest checkpoint (the Adam
        state starts afresh: checkpoints hold weights only)."""
        run_dir = Path(run_dir)
        manifest = read_run(run_dir)
        checkpoint = latest_checkpoint(run_dir / "checkpoints")
        if manifest is None or checkpoint is None:
            raise FinetuneDataError("That training stopped before its first checkpoint, so "
                                    "there is nothing to resume: start it again.")
        settings = FinetuneSettings(**manifest["settings"])
        return cls(settings, read_texts(run_dir), owner, data_dir, models=models,
                   queue=queue, serving=serving, run_id=run_dir.name,
                   resume_from=checkpoint, resumed=manifest, isolation=isolation)

    @property
    def cancelled(self):
        return self._cancel.is_set()

    @property
    def _keep(self):
        return bool(self._keep_flag.value)

    def start(self):
        self._thread = threading.Thread(target=self._run, name=f"finetune-{self.id}",
                                        daemon=True)
        self._thread.start()
        return self

    def cancel(self, keep=False):
        """Stop within a step. `keep`: publish what was trained so far; otherwise the run
        publishes nothing and its checkpoints are deleted."""
        self._keep_flag.value = int(bool(keep))
        self._cancel.set()
        self.progress.update(message="Cancelling…")

    def wait(self, timeout=None):
        if self._thread is not None:
            self._thread.join(timeout)
        return self.progress.snapshot()

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def _run(self):
        queue = self.queue or default_queue()
        if not queue.acquire(self):
            self.progress.update(status="cancelled", queue_position=None,
                                 message="Cancelled before it started.")
            return
        try:
            if self.isolation == "process":
                run_in_process(self)
            else:
                lower_thread_priority()
                self.execute()
        finally:
            queue.release(self)

    def execute(self):
        """The run itself, reporting through `progress` (here, or in a training process)."""
        try:
            self._train()
            mark_run(self.run_dir, self.progress.snapshot()["status"])
        except Exception as error:  # the run must report, never die silently
            if isinstance(error, OSError) and error.errno == errno.ENOSPC:
                message = ("The server's disk is full: a checkpoint or the fine-tuned preset "
                           "could not be written, so nothing was published. Free some space "
                           "and start again.")
            else:
                message = str(error) if isinstance(error, (UserError, ValueError)) else (
                    f"{type(error).__name__}: {error}")
            if isinstance(error, UserError):
                log.info("fine-tuning %s refused or stopped: %s", self.id, message)
            else:
                log.error("fine-tuning %s failed:\n%s", self.id, traceback.format_exc())
            self.progress.update(status="failed", error=message,
                                 message=f"Training failed: {message}")
            mark_run(self.run_dir, "failed")

    # -- the run --------------------------------------------------------------------
    def _base_preset(self):
        base = self.settings.base_preset
        if base.startswith(PREFIX):
            return str(self.registry.resolve(self.owner, base).path)
        return base

    def _train(self):
        """Load, score the base, train, score again, publish: one run, top to bottom, as
        nanoGPT's train.py reads (long on purpose; each step calls a helper of its own)."""
        import keras

        from albert_demo import AlbertMaskedLM, AlbertMaskedLMPreprocessor
        from albert_demo.engine import MaskPredictor
        from albert_demo.evaluation import masked_token_eval
        from albert_demo.finetune.parallel import training_distribution
        from albert_demo.finetune.training import DivergenceWatch, FinetuneMonitor, FullBatches

        s, p = self.settings, self.progress
        checkpoints = self.run_dir / "checkpoints"
        with training_distribution(s.batch_size, s.data_parallel) as distribution:
            p.update(status="preparing", message=f"Loading {s.base_preset}…"
                     if not self.resume_from else
                     f"Loading the checkpoint at step {self.step_offset}…",
                     data_parallel=distribution is not None)
            # A checkpoint or a fine-tuned base lives in the data folder, which a request's
            # path may not name; this folder was chosen by the server, so it is allowed.
            folder = str(self.resume_from or self._base_preset())
            masked_lm = AlbertMaskedLM.from_preset(
                folder, allowed_dirs=[Path(folder).resolve()] if os.path.isdir(folder) else None)
            if s.sequence_length > masked_lm.backbone.max_sequence_length:
                raise FinetuneDataError(
                    f"Sequence length {s.sequence_length} is above this model's maximum of "
                    f"{masked_lm.backbone.max_sequence_length}.")
            check_memory(s, masked_lm.backbone.get_config())
            check_free_space(self.run_dir, masked_lm.count_params())
            tokenizer = masked_lm.preprocessor.tokenizer
            masked_lm.preprocessor = AlbertMaskedLMPreprocessor(
                tokenizer, sequence_length=s.sequence_length, mask_selection_rate=s.mask_rate,
                mask_selection_length=math.ceil(s.sequence_length * s.mask_rate) + 1,
                seed=s.seed)

            def evaluate():
                if not self.valid_texts:
                    return None
                # Batches no larger than training's: the run's memory estimate holds.
                result = masked_token_eval(masked_lm, self.valid_texts,
                                           sequence_length=s.sequence_length, seed=s.seed,
                                           batch_size=min(32, s.batch_size))
                return {k: float(v) if k != "masks" else int(v) for k, v in result.items()}

            batches = FullBatches(tokenizer(self.train_texts), masked_lm.preprocessor,
                                  s.batch_size, s.seed)
            if self.resumed:  # the first run scored the base model: keep its numbers
                before, base_probes = self.resumed["before"], self.resumed["base_probes"]
                total = self.resumed["total_steps"]
            else:
                p.update(status="evaluating", message="Scoring the base model on the "
                         "validation split…")
                before = evaluate()
                probes = s.probes or default_probes(self.valid_texts or self.train_texts,
                                                    tokenizer)
                base_probes = predict_probes(MaskPredictor(masked_lm, s.base_preset), probes)
                total = min(s.steps if not s.epochs else s.epochs * len(batches),
                            s.max_steps)
                write_json(self.run_dir / TEXTS_FILE, self.passages)
            p.update(before=before, notes=self._notes(before))
            write_json(self.run_dir / RUN_FILE, {
                "status": "training", "settings": dataclasses.asdict(s),
                "total_steps": total, "before": before, "base_probes": base_probes,
                "created": (self.resumed or {}).get("created",
                                                    time.strftime("%Y-%m-%d %H:%M:%S"))})
            offset, remaining = self.step_offset, total - self.step_offset
            masked_lm.backbone.trainable = not s.freeze_backbone
            masked_lm.compile(
                optimizer=keras.optimizers.Adam(s.learning_rate),
                loss=keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True, reduction="mean_with_sample_weight"))

            # Step numbers count the whole run: a resumed run goes on from its checkpoint.
            def report(step, loss, tokens_per_s, eta):
                loss = loss if math.isfinite(loss) else None  # NaN: stopped just below
                if loss is not None:
                    p.add_point(offset + step, loss)
                p.update(step=offset + step, loss=loss, tokens_per_s=tokens_per_s,
                         eta_s=eta, message=f"Training: step {offset + step}/{total}")

            def checkpoint(model, step):
                p.update(checkpoint=str(save_checkpoint(model, checkpoints, offset + step)))

            monitor = FinetuneMonitor(
                remaining, batches.tokens_per_step, report, lambda: self.cancelled,
                s.checkpoint_every, checkpoint, deadline=time.time() + s.max_seconds,
                serving=self.serving,
                watch=DivergenceWatch(reference=self._reference_loss(before)))
            p.update(status="training", total_steps=total, step=offset,
                     message="Compiling the training step…")
            if remaining > 0:  # (0: the restart came after the last step's checkpoint)
                # FullBatches shuffles with its own seed; keras' shuffle would not be seeded.
                masked_lm.fit(batches, epochs=math.ceil(remaining / len(batches)),
                              shuffle=False, verbose=0, callbacks=[monitor])
            stopped, steps = monitor.stop_reason, offset + monitor.step
            if stopped == "diverged":
                self._discard(checkpoints)
                raise FinetuneDataError(
                    f"The training diverged at step {steps}: {monitor.divergence}, so it was "
                    "stopped and nothing was saved. Lower the learning rate (5e-5 is a good "
                    "start) and start again.")
            if stopped == "cancelled" and not self._keep:
                self._discard(checkpoints)
                p.update(status="cancelled", eta_s=0.0, message=(
                    f"Cancelled after {steps_text(steps)}; nothing was saved (tick 'keep "
                    "what was trained' before cancelling to keep it)."))
                return
            if remaining > 0 and monitor.last_checkpoint != monitor.step:
                checkpoint(masked_lm, monitor.step)

            p.update(status="evaluating", message="Scoring the fine-tuned model…")
            after = evaluate()
            tuned = MaskPredictor(masked_lm, PREFIX + s.name,
                                  limits=getattr(self.models, "limits", None),
                                  activity=getattr(self.models, "activity", None))
            tuned_probes = predict_probes(tuned, [b["text"] for b in base_probes])
            p.update(after=after, probes=[
                {"text": b["text"], "base": b, "finetuned": t}
                for b, t in zip(base_probes, tuned_probes)])
            self._publish(masked_lm, tuned, latest_checkpoint(checkpoints), before, after,
                          steps, stopped)

    @staticmethod
    def _reference_loss(before):
        """The base model's validation loss, when enough tokens make it a fair yardstick."""
        if before and before.get("masks", 0) >= MIN_VALIDATION_MASKS:
            return before["loss"]
        return None

    def _notes(self, before):
        """What the person should know about the numbers they will see."""
        masks = (before or {}).get("masks")
        if masks is not None and masks < MIN_VALIDATION_MASKS:
            return [f"The validation split has only {masks} masked tokens, too few for the "
                    "before/after accuracies to mean much (each token moves top-1 by "
                    f"{100 / max(masks, 1):.0f} points; {MIN_VALIDATION_MASKS} or more is "
                    "better): add text or raise the validation share."]
        return []

    def _discard(self, checkpoints):
        """A run that publishes nothing keeps no checkpoints (and is not offered again)."""
        shutil.rmtree(checkpoints, ignore_errors=True)

    def _publish(self, masked_lm, predictor, checkpoint, before, after, steps, stopped):
        """The last checkpoint becomes `finetuned/<name>` (+ a zip), served at once."""
        p, s = self.progress, self.settings
        p.update(status="saving", message="Saving the preset and its zip…")
        target = self.registry.reserve(self.owner, s.name)
        try:
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(checkpoint, tmp)
            info = {"base_preset": s.base_preset, "steps": steps, "stopped": stopped,
                    "settings": dataclasses.asdict(s),
                    "train_passages": len(self.train_texts),
                    "valid_passages": len(self.valid_texts), "before": before,
                    "after": after, "created": time.strftime("%Y-%m-%d %H:%M:%S")}
            (tmp / "finetune.json").write_text(json.dumps(info, indent=2, default=str))
            tmp.rename(target)  # atomic: the folder appears complete or not at all
        finally:
            self.registry.release(target)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        made = shutil.make_archive(str(self.run_dir / f".{target.name}.tmp"), "zip",
                                   root_dir=target.parent, base_dir=target.name)
        zip_path = self.run_dir / f"{target.name}.zip"
        os.replace(made, zip_path)
        entry = self.registry.resolve(self.owner, PREFIX + target.name)
        name = predictor.name = entry.name
        if self.models is not None:
            self.models.put(entry.cache_key, predictor)
        status = "cancelled" if stopped == "cancelled" else "done"
        p.update(status=status, model_name=name, preset_dir=str(target),
                 zip_path=str(zip_path), eta_s=0.0, message=(
                     f"{'Cancelled' if stopped == 'cancelled' else 'Finished'} after "
                     f"{steps_text(steps)}"
                     f"{' (time limit)' if stopped == 'time limit' else ''}; "
                     f"saved as {name}."))
