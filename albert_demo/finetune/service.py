"""What the Fine-tune tab and its API call: plain values in, plain values out, one job per
session. Tests drive a whole run through here without a browser.

Example:
```python
service = FinetuneService(data_dir, models=model_cache, store=annotation_store,
                          serving=activity)   # built once, in app.py
service.inspect("notes.csv")          # {"kind": "csv", "columns": [...], "column": "text"}
service.preview(session_id, "notes.csv", "text")   # counts, sample passages, probes
service.start(session_id, FinetuneSettings(name="notes-v1"), "notes.csv", "text")
service.status(session_id)            # progress, loss history, results when done
service.cancel(session_id, keep=True) # stop, and publish what was trained so far
```
"""

import functools
import threading

from albert_demo.callers import caller_id
from albert_demo.finetune.checkpoints import checkpoint_step, latest_checkpoint
from albert_demo.finetune.data import FinetuneDataError, preview, read_upload, split_passages
from albert_demo.finetune.job import FinetuneJob
from albert_demo.finetune.manifest import mark_run, read_run
from albert_demo.finetune.memory import check_memory, read_config
from albert_demo.finetune.probes import default_probes
from albert_demo.finetune.progress import ACTIVE
from albert_demo.finetune.registry import PREFIX, FinetunedRegistry
from albert_demo.finetune.settings import FinetuneSettings



@functools.lru_cache(maxsize=8)
def _tokenizer(preset_folder):
    """The base's tokenizer; the folder was chosen by the server (it may be a fine-tuned
    model in the data folder, which a request's own path may not name)."""
    from pathlib import Path

    from albert_demo import AlbertTokenizer
    return AlbertTokenizer.from_preset(preset_folder,
                                       allowed_dirs=[Path(preset_folder).resolve()])


class FinetuneService:
    """models: the `ModelCache` that serves predictions (a published model joins it);
    store: the `AnnotationStore` or None; serving: the `ServingActivity` training yields
    to (default: the cache's); isolation: where runs train, "thread" or "process" (the
    server's setting, `Settings.finetune_isolation`)."""

    def __init__(self, data_dir, models=None, store=None, queue=None, sharing=None,
                 extra_bases=(), serving=None, isolation="thread"):
        self.registry = FinetunedRegistry(data_dir, sharing=sharing)
        self.extra_bases = list(extra_bases)  # e.g. a local preset folder in tests
        self.data_dir, self.models, self.store, self.queue = data_dir, models, store, queue
        self.serving = serving if serving is not None else getattr(models, "activity", None)
        self.isolation = isolation
        self._jobs = {}
        self._lock = threading.Lock()

    # -- data -------------------------------------------------------------------------
    @staticmethod
    def inspect(path):
        """Columns / fields of an upload, for the column chooser."""
        if not path:
            return {"kind": None, "columns": [], "column": None}
        upload = read_upload(path)
        return {"kind": upload.kind, "columns": upload.columns,
                "column": upload.default_column}

    def passages(self, session_id, path=None, column=None, use_annotations=False):
        passages = read_upload(path).passages(column or None) if path else []
        if use_annotations:
            if self.store is None:
                raise FinetuneDataError("Annotations are not enabled on this server.")
            from albert_demo.annotations import to_training_texts
            rows = self.store.search(session_id=caller_id(session_id), limit=None)
            texts = to_training_texts(rows)
            if not texts:
                raise FinetuneDataError("None of your annotations has a gold word for every "
                                        "[MASK] yet: mark predictions right or give the "
                                        "correct word in the Predict tab.")
            passages = passages + texts
        if not passages:
            raise FinetuneDataError("No training text: upload a .txt, .md, .csv or .jsonl "
                                    "file, or tick 'use my annotations'.")
        return passages

    def base_choices(self, session_id):
        from albert_demo.presets.registry import all_presets
        return (list(all_presets()) + self.extra_bases
                + (self.registry.names(session_id) if caller_id(session_id, required=False)
                   else []))

    def _base_folder(self, session_id, base_preset):
        if base_preset not in self.base_choices(session_id):
            raise FinetuneDataError(f"Unknown base preset {base_preset!r}; choose one from "
                                    "the list.")
        if base_preset.startswith(PREFIX):
            return str(self.registry.resolve(caller_id(session_id), base_preset).path)
        from albert_demo.presets.resolve import resolve_preset
        return str(resolve_preset(base_preset)[0])

    def preview(self, session_id, path=None, column=None, use_annotations=False,
                base_preset=None, sequence_length=128, validation_share=0.1, seed=0):
        base_preset = base_preset or FinetuneSettings.base_preset
        passages = self.passages(session_id, path, column, use_annotations)
        tokenizer = _tokenizer(self._base_folder(session_id, base_preset))
        found = preview(passages, tokenizer, float(validation_share), int(seed),
                        int(sequence_length))
        train, valid = split_passages(passages, float(validation_share), int(seed))
        # The probes a run makes when none are given (the same split, the same lines).
        found["probes"] = default_probes(valid or train, tokenizer)
        return found

    def _check_memory(self, session_id, settings):
        """Refuse settings over the memory budget before the job starts, when the base
        model's config is on disk (otherwise the job checks it after loading)."""
        base = settings.base_preset
        folder = None
        if base.startswith(PREFIX):
            folder = self.registry.resolve(session_id, base).path
        else:
            from albert_demo.presets.registry import all_presets
            info = all_presets().get(base)
            folder = info.local_dir if info is not None else base
        config = read_config(folder) if folder is not None else None
        if config is not None:
            check_memory(settings, config)

    # -- jobs -------------------------------------------------------------------------
    def _replace_job(self, session_id, make_job):
        """This person's new job from `make_job()`, unless one of theirs is still running
        (one training per person); checked and replaced under one lock."""
        with self._lock:
            current = self._jobs.get(session_id)
            if current is not None and current.running:
                raise FinetuneDataError("You already have a training running: cancel it or "
                                        "wait for it to finish.")
            job = self._jobs[session_id] = make_job()
        return job

    def start(self, session_id, settings, path=None, column=None, use_annotations=False):
        session_id = caller_id(session_id)
        if settings.base_preset not in self.base_choices(session_id):
            raise FinetuneDataError(f"Unknown base preset {settings.base_preset!r}; choose "
                                    "one from the list.")
        passages = self.passages(session_id, path, column, use_annotations)
        self._check_memory(session_id, settings.checked())
        job = self._replace_job(session_id, lambda: FinetuneJob(
            settings, passages, session_id, self.data_dir, models=self.models,
            queue=self.queue, serving=self.serving, isolation=self.isolation))
        found = self.interrupted(session_id)
        if found is not None:  # a new run replaces the interrupted one: stop offering it
            mark_run(found["run_dir"], "abandoned")
        job.start()
        return self.status(session_id)

    def interrupted(self, session_id):
        """This person's newest run that a restart cut short (its manifest still says
        "training" but no job of this process runs it), as a dict, or None."""
        session_id = caller_id(session_id)
        with self._lock:
            live = {job.id for job in self._jobs.values() if job.running}
        root = self.registry.runs_dir(session_id)
        found = []
        for run_dir in root.glob("*") if root.is_dir() else ():
            manifest = read_run(run_dir)
            if manifest and manifest.get("status") == "training" and run_dir.name not in live:
                found.append((run_dir.stat().st_mtime, run_dir, manifest))
        if not found:
            return None
        _, run_dir, manifest = max(found, key=lambda item: item[0])
        checkpoint = latest_checkpoint(run_dir / "checkpoints")
        return {"run_dir": run_dir, "name": manifest["settings"]["name"],
                "step": checkpoint_step(checkpoint) if checkpoint else 0,
                "total_steps": manifest["total_steps"], "resumable": checkpoint is not None}

    def resume(self, session_id):
        """Continue this person's interrupted run from its newest checkpoint."""
        session_id = caller_id(session_id)
        found = self.interrupted(session_id)
        if found is None:
            raise FinetuneDataError("There is no interrupted training of yours to resume.")
        job = self._replace_job(session_id, lambda: FinetuneJob.resume(
            found["run_dir"], session_id, self.data_dir, models=self.models,
            queue=self.queue, serving=self.serving, isolation=self.isolation))
        job.start()
        return self.status(session_id)

    def job(self, session_id):
        with self._lock:
            return self._jobs.get(caller_id(session_id))

    def status(self, session_id):
        job = self.job(session_id)
        if job is None:
            found = self.interrupted(session_id)
            if found is None:
                return {"status": "idle", "message": "No training yet.", "history": []}
            how = ("Press Resume to continue from its checkpoint at step "
                   f"{found['step']}." if found["resumable"] else
                   "It stopped before its first checkpoint: start it again.")
            return {"status": "interrupted", "history": [], "active": False,
                    "step": found["step"], "total_steps": found["total_steps"],
                    "resumable": found["resumable"],
                    "message": f"Your training {found['name']!r} was interrupted by a "
                               f"server restart at step {found['step']} of "
                               f"{found['total_steps']}. {how}"}
        state = job.progress.snapshot()
        state["history"] = [list(point) for point in state["history"]]
        state["active"] = state["status"] in ACTIVE
        return state

    def cancel(self, session_id, keep=False):
        """Stop this person's run; `keep`: publish what was trained so far."""
        job = self.job(session_id)
        if job is None or not job.running:
            raise FinetuneDataError("There is no training of yours to cancel.")
        job.cancel(keep=keep)
        return self.status(session_id)

    def wait(self, session_id, timeout=None):
        job = self.job(session_id)
        if job is not None:
            job.wait(timeout)
        return self.status(session_id)


# -- presentation helpers (plain values for tables and plots) -------------------------------
def progress_text(state):
    status = state.get("status", "idle")
    if status == "idle":
        return "No training yet."
    parts = [f"**{status}** — {state.get('message', '')}"]
    total, step = state.get("total_steps"), state.get("step", 0)
    if total:
        bar = int(20 * step / total)
        parts.append(f"`[{'#' * bar}{'.' * (20 - bar)}]` step {step}/{total}")
    if state.get("loss") is not None:
        parts.append(f"loss {state['loss']:.3f}")
    if state.get("tokens_per_s"):
        parts.append(f"{state['tokens_per_s']:,.0f} tokens/s")
    if state.get("eta_s") and state.get("status") == "training":
        parts.append(f"about {int(state['eta_s'] // 60)}m {int(state['eta_s'] % 60)}s left")
    if state.get("queue_position"):
        parts.append(f"position in queue: {state['queue_position']}")
    if state.get("error"):
        parts.append(f"error: {state['error']}")
    text = " · ".join(parts)
    for note in state.get("notes") or []:
        text += f"\n\n⚠️ {note}"
    return text


def metrics_rows(state):
    """[[metric, before, after, change]] on the validation split."""
    before, after = state.get("before") or {}, state.get("after") or {}
    rows = []
    for key, label in (("loss", "masked-token loss"), ("top1", "top-1 accuracy"),
                       ("top5", "top-5 accuracy")):
        b, a = before.get(key), after.get(key)
        rows.append([label, None if b is None else round(b, 4),
                     None if a is None else round(a, 4),
                     None if a is None or b is None else round(a - b, 4)])
    return rows


def probe_rows(state):
    """[[probe, base model, fine-tuned model]]: each side's top guesses per mask, best
    first (the probe itself shows the sentence, so the cells stay short)."""
    def side(result):
        if "error" in result:
            return result["error"]
        return " | ".join(", ".join(m) for m in result["masks"])
    return [[p["text"], side(p["base"]), side(p["finetuned"])]
            for p in state.get("probes") or []]


def loss_figure(history):
    """The training loss per step; before the first step, an empty frame that says so
    (no made-up axes)."""
    import plotly.graph_objects as go
    figure = go.Figure()
    layout = dict(height=300, margin=dict(l=40, r=10, t=30, b=40), title="Training loss")
    if not history:
        figure.update_layout(
            xaxis=dict(visible=False), yaxis=dict(visible=False), **layout,
            annotations=[dict(text="The loss curve appears here once training starts.",
                              showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)])
        return figure
    steps, losses = zip(*history)
    figure.add_trace(go.Scatter(x=steps, y=losses, mode="lines", name="training loss"))
    figure.update_layout(xaxis_title="step", yaxis_title="masked-token loss", **layout)
    return figure
