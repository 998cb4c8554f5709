"""One fine-tuning run in a background thread: queue -> load -> evaluate -> fit ->
evaluate -> probes -> publish a preset and a zip. Progress is read with `snapshot()`.

Example:
```python
settings = FinetuneSettings(name="legal-v1", steps=200, probes=["The court [MASK] the case."])
job = FinetuneJob(settings, passages, owner=session_id, data_dir="data").start()
job.progress.snapshot()    # {"status": "training", "step": 17, "loss": 3.2, ...}
job.cancel()               # stops within a step; the last checkpoint is kept
result = job.wait()        # before/after metrics, probes, preset folder, zip
```
"""

import copy
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
from dataclasses import dataclass, field
from pathlib import Path

from albert_demo.engine.errors import InputError, finite_number, whole_number
from albert_demo.finetune.data import FinetuneDataError, split_passages
from albert_demo.finetune.registry import PREFIX, FinetunedRegistry, check_name
from albert_demo.presets.registry import EMBEDDED_PRESET

log = logging.getLogger("albert_demo.finetune")


def _setting(convert, value, label):
    """engine.errors' converters, with the fine-tune tab's error type."""
    try:
        return convert(value, label)
    except InputError as error:
        raise FinetuneDataError(str(error)) from None


class StorageError(ValueError):
    """Too little disk for a run's checkpoints and result; the message gives the sizes."""


def _env_number(name, default, kind=int):
    try:
        return kind(float(os.environ.get(name, default)))
    except ValueError:
        return default


def _max_steps():
    return _env_number("ALBERT_DEMO_FINETUNE_MAX_STEPS", 2000)


def _max_seconds():
    return _env_number("ALBERT_DEMO_FINETUNE_MAX_SECONDS", 1800.0, float)


@dataclass
class FinetuneSettings:
    """What a person chooses. `epochs`, when set, overrides `steps`."""
    name: str = "my-model"
    base_preset: str = EMBEDDED_PRESET
    steps: int | None = 100
    epochs: int | None = None
    learning_rate: float = 5e-5
    batch_size: int = 8
    sequence_length: int = 128
    mask_rate: float = 0.15
    freeze_backbone: bool = False
    validation_share: float = 0.1
    seed: int = 0
    checkpoint_every: int = 50  # steps; 0 = only at the end
    probes: tuple = ()
    max_steps: int = field(default_factory=_max_steps)
    max_seconds: float = field(default_factory=_max_seconds)
    data_parallel: bool | None = None  # None: on when several devices are present

    def checked(self):
        """A validated copy; raises FinetuneDataError saying which setting to change."""
        probes = self.probes if isinstance(self.probes, (list, tuple)) else ()
        if not all(isinstance(p, str) for p in probes):
            raise FinetuneDataError("Probe sentences must be text.")
        # API callers can send any JSON type: make each number a number first, by name.
        s = dataclasses.replace(
            self, name=check_name(self.name if isinstance(self.name, str) else None),
            probes=tuple(p for p in probes if p.strip()),
            epochs=_setting(whole_number, self.epochs, "Epochs") if self.epochs else None,
            steps=None if self.steps is None else _setting(whole_number, self.steps, "Steps"),
            learning_rate=_setting(finite_number, self.learning_rate, "The learning rate"),
            batch_size=_setting(whole_number, self.batch_size, "The batch size"),
            sequence_length=_setting(whole_number, self.sequence_length,
                                     "The sequence length"),
            mask_rate=_setting(finite_number, self.mask_rate, "The masking rate"),
            validation_share=_setting(finite_number, self.validation_share,
                                      "The validation share"),
            seed=_setting(whole_number, self.seed, "The seed"),
            checkpoint_every=_setting(whole_number, self.checkpoint_every,
                                      "Checkpoint every"))

        def need(ok, message):
            if not ok:
                raise FinetuneDataError(message)

        if s.epochs:
            need(1 <= s.epochs <= 1000, "Epochs must be between 1 and 1000.")
        else:
            need(s.steps is not None and 1 <= s.steps <= s.max_steps,
                 f"Steps must be between 1 and {s.max_steps} (this server's limit, "
                 "ALBERT_DEMO_FINETUNE_MAX_STEPS).")
        need(0 < s.learning_rate <= 1, "The learning rate must be above 0 and at "
             "most 1; 5e-5 is a good start.")
        need(1 <= s.batch_size <= 256, "The batch size must be between 1 and 256.")
        need(8 <= s.sequence_length <= 512, "The sequence length must be between 8 and "
             "512 tokens.")
        need(0 < s.mask_rate <= 0.5, "The masking rate must be above 0 and at most "
             "0.5; 0.15 is standard.")
        need(0 <= s.validation_share <= 0.5, "The validation share must be between 0 "
             "and 0.5.")
        need(0 <= s.checkpoint_every, "Checkpoint every must be 0 (only at the end) or more.")
        need(len(s.probes) <= 20, "At most 20 probe sentences.")
        return s


class FinetuneProgress:
    """Thread-safe state of one job; `snapshot()` returns a plain dict copy."""

    def __init__(self):
        self._lock = threading.Lock()
        self._state = {"status": "queued", "message": "Waiting to start.",
                       "queue_position": None, "step": 0, "total_steps": None, "loss": None,
                       "tokens_per_s": None, "eta_s": None, "elapsed_s": 0.0,
                       "history": [], "before": None, "after": None, "probes": [],
                       "model_name": None, "preset_dir": None, "zip_path": None,
                       "checkpoint": None, "error": None, "started_at": time.time()}

    def update(self, **changes):
        with self._lock:
            self._state.update(changes)
            self._state["elapsed_s"] = time.time() - self._state["started_at"]

    def add_point(self, step, loss):
        with self._lock:
            self._state["history"].append((step, loss))

    def snapshot(self):
        with self._lock:
            state = copy.deepcopy(self._state)
        state["elapsed_s"] = time.time() - state["started_at"]
        return state


class TrainingQueue:
    """At most `max_concurrent` trainings run at once (env
    `ALBERT_DEMO_MAX_CONCURRENT_TRAININGS`, default 1); the rest wait in order."""

    def __init__(self, max_concurrent=None):
        self.max_concurrent = max_concurrent or max(1, _env_number(
            "ALBERT_DEMO_MAX_CONCURRENT_TRAININGS", 1))
        self._cond = threading.Condition()
        self._waiting, self._running = [], set()

    def acquire(self, job):
        """Block until `job` may run (True) or is cancelled while waiting (False)."""
        with self._cond:
            self._waiting.append(job)
            while True:
                index = self._waiting.index(job)
                if job.cancelled:
                    self._waiting.remove(job)
                    self._cond.notify_all()
                    return False
                if index < self.max_concurrent - len(self._running):
                    self._waiting.remove(job)
                    self._running.add(job)
                    self._cond.notify_all()
                    job.progress.update(queue_position=None)
                    return True
                ahead = index + len(self._running) - self.max_concurrent + 1
                job.progress.update(queue_position=ahead, message=(
                    f"Queued: {ahead} training(s) ahead of yours."))
                self._cond.wait(0.25)

    def release(self, job):
        with self._cond:
            self._running.discard(job)
            self._cond.notify_all()

    def __len__(self):
        with self._cond:
            return len(self._waiting) + len(self._running)


_default_queue = None
_default_queue_lock = threading.Lock()


def default_queue():
    global _default_queue
    with _default_queue_lock:
        if _default_queue is None:
            _default_queue = TrainingQueue()
        return _default_queue


def predict_probes(predictor, probes, top_k=5):
    """Top-k per mask for each probe; a bad probe gets its message instead."""
    from albert_demo.engine import InputError
    out = []
    for text in probes:
        try:
            result = predictor.predict(text, top_k=top_k)
            out.append({"text": text, "filled_text": result["filled_text"],
                        "masks": [[p["token"] for p in m["predictions"]]
                                  for m in result["masks"]]})
        except InputError as error:
            out.append({"text": text, "error": str(error)})
    return out


RUN_FILE, TEXTS_FILE = "run.json", "texts.json"


def _write_json(path, obj):
    """Write-then-rename: a reader (or a restart) sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_run(run_dir):
    """The run's manifest, or None (no manifest, or one a crash left unreadable)."""
    try:
        return json.loads((Path(run_dir) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def mark_run(run_dir, status):
    """Set a run's status in its manifest (no manifest: nothing to mark). Best effort: on
    a full disk the run keeps its old status and a restart offers it for resuming."""
    manifest = read_run(run_dir)
    if manifest is not None:
        try:
            _write_json(Path(run_dir) / RUN_FILE, {**manifest, "status": status})
        except OSError as error:
            log.warning("could not mark run %s %s: %s", Path(run_dir).name, status, error)


def checkpoint_step(folder):
    return int(Path(folder).name.split("-")[-1])


class FinetuneJob:
    """One training run in a thread. Its folder keeps `run.json` (settings, step count,
    the base model's scores, status) and `texts.json` beside atomic checkpoints, so a run
    a restart interrupted can continue from its last checkpoint (`FinetuneJob.resume`)."""

    def __init__(self, settings, passages, owner, data_dir, models=None, queue=None,
                 run_id=None, resume_from=None, resumed=None):
        self.settings = settings.checked()
        self.passages = [p for p in passages if p and p.strip()]
        self.train_texts, self.valid_texts = split_passages(
            self.passages, self.settings.validation_share, self.settings.seed)
        self.owner = owner
        self.registry = FinetunedRegistry(data_dir)
        self.models = models
        self.queue = queue
        self.id = run_id or uuid.uuid4().hex[:12]
        self.run_dir = self.registry.run_dir(owner, self.id)
        # Resuming: the checkpoint to load, its step, and the first run's manifest.
        self.resume_from, self.resumed = resume_from, resumed
        self.step_offset = checkpoint_step(resume_from) if resume_from else 0
        self.progress = FinetuneProgress()
        self._cancel = threading.Event()
        self._thread = None

    @classmethod
    def resume(cls, run_dir, owner, data_dir, models=None, queue=None):
        """A job that continues an interrupted run from its newest checkpoint (the Adam
        state starts afresh: checkpoints hold weights only)."""
        from albert_demo.finetune.checkpoints import latest_checkpoint
        run_dir = Path(run_dir)
        manifest = read_run(run_dir)
        checkpoint = latest_checkpoint(run_dir / "checkpoints")
        if manifest is None or checkpoint is None:
            raise FinetuneDataError("That training stopped before its first checkpoint, so "
                                    "there is nothing to resume: start it again.")
        texts = json.loads((run_dir / TEXTS_FILE).read_text(encoding="utf-8"))
        settings = FinetuneSettings(**manifest["settings"])
        return cls(settings, texts, owner, data_dir, models=models, queue=queue,
                   run_id=run_dir.name, resume_from=checkpoint, resumed=manifest)

    @property
    def cancelled(self):
        return self._cancel.is_set()

    def start(self):
        self._thread = threading.Thread(target=self._run, name=f"finetune-{self.id}",
                                        daemon=True)
        self._thread.start()
        return self

    def cancel(self):
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
            self._train()
            mark_run(self.run_dir, self.progress.snapshot()["status"])
        except Exception as error:  # the thread must report, never die silently
            log.error("fine-tuning %s failed:\n%s", self.id, traceback.format_exc())
            if isinstance(error, OSError) and error.errno == errno.ENOSPC:
                message = ("The server's disk is full: a checkpoint or the fine-tuned preset "
                           "could not be written, so nothing was published. Free some space "
                           "and start again.")
            else:
                message = str(error) if isinstance(error, ValueError) else (
                    f"{type(error).__name__}: {error}")
            self.progress.update(status="failed", error=message,
                                 message=f"Training failed: {message}")
            mark_run(self.run_dir, "failed")
        finally:
            queue.release(self)

    # -- the run --------------------------------------------------------------------
    def _base_preset(self):
        base = self.settings.base_preset
        if base.startswith(PREFIX):
            return str(self.registry.resolve(self.owner, base).path)
        return base

    def _train(self):
        import keras

        from albert_demo import AlbertMaskedLM, AlbertMaskedLMPreprocessor
        from albert_demo.engine import MaskPredictor
        from albert_demo.evaluation import masked_token_eval
        from albert_demo.finetune.parallel import training_distribution
        from albert_demo.finetune.checkpoints import latest_checkpoint, save_checkpoint
        from albert_demo.finetune.training import FinetuneMonitor, FullBatches

        s, p = self.settings, self.progress
        checkpoints = self.run_dir / "checkpoints"
        with training_distribution(s.batch_size, s.data_parallel) as distribution:
            p.update(status="preparing", message=f"Loading {s.base_preset}…"
                     if not self.resume_from else
                     f"Loading the checkpoint at step {self.step_offset}…",
                     data_parallel=distribution is not None)
            masked_lm = AlbertMaskedLM.from_preset(str(self.resume_from or self._base_preset()))
            if s.sequence_length > masked_lm.backbone.max_sequence_length:
                raise FinetuneDataError(
                    f"Sequence length {s.sequence_length} is above this model's maximum of "
                    f"{masked_lm.backbone.max_sequence_length}.")
            self._check_free_space(masked_lm)
            tokenizer = masked_lm.preprocessor.tokenizer
            masked_lm.preprocessor = AlbertMaskedLMPreprocessor(
                tokenizer, sequence_length=s.sequence_length, mask_selection_rate=s.mask_rate,
                mask_selection_length=math.ceil(s.sequence_length * s.mask_rate) + 1,
                seed=s.seed)

            def evaluate():
                if not self.valid_texts:
                    return None
                result = masked_token_eval(masked_lm, self.valid_texts,
                                           sequence_length=s.sequence_length, seed=s.seed)
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
                base_probes = predict_probes(MaskPredictor(masked_lm, s.base_preset),
                                             s.probes)
                total = min(s.steps if not s.epochs else s.epochs * len(batches),
                            s.max_steps)
                _write_json(self.run_dir / TEXTS_FILE, self.passages)
            p.update(before=before)
            _write_json(self.run_dir / RUN_FILE, {
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
                p.add_point(offset + step, loss)
                p.update(step=offset + step, loss=loss, tokens_per_s=tokens_per_s,
                         eta_s=eta, message=f"Training: step {offset + step}/{total}")

            def checkpoint(model, step):
                p.update(checkpoint=str(save_checkpoint(model, checkpoints, offset + step)))

            monitor = FinetuneMonitor(
                remaining, batches.tokens_per_step, report, lambda: self.cancelled,
                s.checkpoint_every, checkpoint, deadline=time.time() + s.max_seconds)
            p.update(status="training", total_steps=total, step=offset,
                     message="Compiling the training step…")
            if remaining > 0:  # (0: the restart came after the last step's checkpoint)
                # FullBatches shuffles with its own seed; keras' shuffle would not be seeded.
                masked_lm.fit(batches, epochs=math.ceil(remaining / len(batches)),
                              shuffle=False, verbose=0, callbacks=[monitor])
                if monitor.last_checkpoint != monitor.step:
                    checkpoint(masked_lm, monitor.step)
            stopped = monitor.stop_reason

            p.update(status="evaluating", message="Scoring the fine-tuned model…")
            after = evaluate()
            tuned = MaskPredictor(masked_lm, PREFIX + s.name)
            tuned_probes = predict_probes(tuned, s.probes)
            p.update(after=after, probes=[
                {"text": b["text"], "base": b, "finetuned": t}
                for b, t in zip(base_probes, tuned_probes)])
            self._publish(masked_lm, tuned, latest_checkpoint(checkpoints), before, after,
                          offset + monitor.step, stopped)

    def _check_free_space(self, masked_lm):
        """Refuse before training rather than fail at the first save: a run writes up to
        two checkpoints, the preset and its zip, each about the size of the weights."""
        need = 4 * 4 * masked_lm.count_params() + 16 * 2**20
        folder = self.run_dir
        while not folder.exists():
            folder = folder.parent
        free = shutil.disk_usage(folder).free
        if free < need:
            raise StorageError(f"The server's disk is full for this run: fine-tuning this "
                               f"model needs about {need / 2**20:,.0f} MB free for checkpoints "
                               f"and the result, and {free / 2**20:,.0f} MB are free.")

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
                     f"{steps} steps{' (time limit)' if stopped == 'time limit' else ''}; "
                     f"saved as {name}."))
