"""What the app does, as plain functions: text and names in, JSON-ready values out.

No Gradio here, so the command line and the tests use the same code as the page and
the API. Mistakes in the request raise one of `USER_ERRORS`, whose message tells the
person what to change; the UI turns them into `gr.Error`.

    from albert_demo.engine import ModelCache
    handlers = Handlers(ModelCache())
    handlers.predict("The sky is [MASK].", "albert_tiny_en_uncased", 5)["masks"][0]
    # {'index': 4, 'predictions': [{'token': 'not', 'token_id': 35, 'score': 0.044}, ...]}
"""

import datetime as dt
import html
import os
import shutil
import tempfile
import threading
from pathlib import Path

from albert_demo.annotations import AnnotationError, AnnotationNotFound, evaluation_items
from albert_demo.engine.errors import InputError, text_or_none, whole_number
from albert_demo.presets.registry import EMBEDDED_PRESET, OFFICIAL_PRESETS, all_presets
from albert_demo.presets.resolve import PresetError

USER_ERRORS = (InputError, PresetError, AnnotationError, AnnotationNotFound, PermissionError)
API_SESSION = "api"  # gradio_client callers have no browser: their rows share this id
WARMUP_LENGTHS = (16, 32, 64, 128)
EXPORT_FORMATS = ("csv", "jsonl", "hf-dataset")
VERDICT_FILTERS = ("any", "right", "wrong", "none")
EVAL_BATCH = 8


def _params(n):
    return f"{n / 1e6:.1f}M params" if n else "size unknown"


def is_cached(info):
    """Whether an official preset's files are already in the Hugging Face cache."""
    if info.local_dir is not None:
        return True
    try:
        from huggingface_hub import try_to_load_from_cache
        return isinstance(try_to_load_from_cache(info.hf_repo, "config.json"), str)
    except Exception:  # a broken cache only means "not cached"
        return False


def preset_choices():
    """[(label, name)] for the preset dropdown: size and whether a download is needed."""
    choices = []
    for name, info in all_presets().items():
        if info.local_dir is not None:
            where = "embedded"
        else:
            where = "cached" if is_cached(info) else "download needed"
        choices.append((f"{name} ({_params(info.parameters)}, {where})", name))
    return choices


def filled_html(text, result):
    """The text with each [MASK] replaced by its best guess, highlighted; all text escaped."""
    parts = text.split("[MASK]")
    words = [m["predictions"][0]["token"] for m in result["masks"]]
    out = [html.escape(parts[0])]
    for n, (word, rest) in enumerate(zip(words, parts[1:]), 1):
        out.append(f'<mark title="[MASK] {n}">{html.escape(word)}</mark>{html.escape(rest)}')
    return f'<p class="filled-text">{"".join(out)}</p>'


def _json_ready(result):
    return {k: v for k, v in result.items() if k not in ("attention", "tokens")}


def _session(session_id):
    return session_id or API_SESSION


def _day(value, name):
    if value is None or not str(value).strip():
        return None
    try:
        day = dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"{name} must be a date like 2025-01-31, not {value!r}.") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


class Handlers:
    """The app's operations over a model cache and (optionally) an annotation store."""

    def __init__(self, cache, store=None, default_preset=EMBEDDED_PRESET, data_dir=None):
        self.cache = cache
        self.store = store
        self.default_preset = default_preset
        self.data_dir = data_dir
        self.warm = threading.Event()

    # -- models ---------------------------------------------------------------------
    def model(self, preset, progress=None, session_id=None):
        """A loaded preset; `finetuned/<name>` resolves among the caller's own models."""
        preset = (text_or_none(preset, "preset") or self.default_preset).strip()
        if preset.startswith("finetuned/"):
            if self.data_dir is None:
                raise InputError("Fine-tuned models are not enabled on this server.")
            from albert_demo.finetune.registry import FinetunedRegistry
            return FinetunedRegistry(self.data_dir).predictor(_session(session_id), preset,
                                                              models=self.cache)
        return self.cache.get(preset, progress=progress)

    def preset_choices(self, session_id=None):
        """The dropdown's presets plus the caller's fine-tuned models."""
        choices = preset_choices()
        if self.data_dir is not None and session_id:
            from albert_demo.finetune.registry import FinetunedRegistry
            names = FinetunedRegistry(self.data_dir).names(session_id)
            choices += [(f"{name} (fine-tuned, yours)", name) for name in names]
        return choices

    def warm_up(self, preset=None, lengths=WARMUP_LENGTHS):
        """Load a preset and compile its forward for the common shapes (background)."""
        try:
            self.model(preset).warmup(lengths=lengths, with_attention=(False, True))
        finally:
            self.warm.set()

    def engine_stats(self):
        loaded = self.cache.loaded()
        traces = {name: self.cache.get(name).compiled.trace_count for name in loaded}
        return {"traces": sum(traces.values()), "traces_per_preset": traces,
                "loaded": loaded, "warm": self.warm.is_set()}

    # -- predictions ----------------------------------------------------------------
    def predict(self, text, preset=None, top_k=5, progress=None, session_id=None):
        """The /predict JSON: independent top-k for every [MASK]."""
        return self.model(preset, progress, session_id).predict(text, top_k)

    def predict_joint(self, text, preset=None, top_k=5, progress=None, session_id=None):
        return self.model(preset, progress, session_id).predict_joint(text, top_k)

    def score_candidates(self, text, preset=None, candidates="", progress=None):
        return self.model(preset, progress).score_candidates(text, candidates)

    def analyse(self, text, preset=None, top_k=5, mode="independent", candidates="",
                progress=None, session_id=None):
        """Everything the Predict tab shows, from one compiled forward (plus the joint
        re-predictions when asked): predictions, attention, candidate scores."""
        model = self.model(preset, progress, session_id)
        result = model.predict(text, top_k, with_attention=True)
        shown = model.predict_joint(text, top_k) if mode == "joint" else _json_ready(result)
        scores = model.score_candidates(text, candidates) if (candidates or "").strip() else None
        mask_indices = [m["index"] for m in result["masks"]]
        return {"text": text, "preset": model.name, "result": shown, "candidates": scores,
                "tokens": result["tokens"], "mask_indices": mask_indices,
                "attention": result["attention"]}

    def attention(self, text, preset=None, layer=-1, head=-1, progress=None):
        """Tokens and attention weights (rows attend to columns) as nested lists.

        layer/head: an index, or -1 for all; the shape is given in "shape"."""
        found = self.model(preset, progress).attention(text)
        weights = found["attention"]
        layers, heads = weights.shape[:2]
        layer, head = whole_number(layer, "layer"), whole_number(head, "head")
        if not -1 <= layer < layers:
            raise InputError(f"layer must be -1 (all) or 0..{layers - 1}.")
        if not -1 <= head < heads:
            raise InputError(f"head must be -1 (all) or 0..{heads - 1}.")
        if layer >= 0:
            weights = weights[layer:layer + 1]
        if head >= 0:
            weights = weights[:, head:head + 1]
        return {"tokens": found["tokens"], "mask_indices": found["mask_indices"],
                "layers": layers, "heads": heads, "layer": layer, "head": head,
                "shape": list(weights.shape), "attention": weights.round(5).tolist()}

    # -- annotations ----------------------------------------------------------------
    def _store(self):
        if self.store is None:
            raise AnnotationError("Annotations are not enabled on this server.")
        return self.store

    def annotate(self, session_id, preset, text, mask_ordinal=0, verdict=None,
                 correct_token=None, tag=None, note=None, shown=None):
        """Save one judgement of one [MASK]. `shown`: the predictions JSON the person saw
        (re-computed with top-10 when missing, e.g. from the API)."""
        store = self._store()
        preset = (text_or_none(preset, "preset") or self.default_preset).strip()
        if not shown or shown.get("text") != text or shown.get("preset") != preset:
            shown = {"result": self.predict(text, preset, 10)}
        masks = shown["result"]["masks"]
        ordinal = whole_number(mask_ordinal, "mask_ordinal")
        if not 0 <= ordinal < len(masks):
            raise InputError(f"Mask number {ordinal + 1} does not exist: the text has "
                             f"{len(masks)} [MASK].")
        row = store.add(session_id=_session(session_id), preset=preset, text=text,
                        mask_index=masks[ordinal]["index"], mask_ordinal=ordinal,
                        predictions=masks[ordinal]["predictions"],
                        verdict=verdict or None, correct_token=correct_token or None,
                        tag=tag or None, note=note or None)
        return row.to_dict()

    def _filters(self, query=None, preset=None, tag=None, verdict="any", since=None,
                 until=None):
        return {"query": query or None, "preset": preset or None, "tag": tag or None,
                "verdict": None if verdict in (None, "", "any") else verdict,
                "since": _day(since, "From"), "until": _day(until, "Until")}

    def search_annotations(self, session_id, query=None, preset=None, tag=None,
                           verdict="any", since=None, until=None, limit=500):
        rows = self._store().search(session_id=_session(session_id), limit=limit,
                                    **self._filters(query, preset, tag, verdict, since, until))
        return [r.to_dict() for r in rows]

    def filter_choices(self, session_id):
        store = self._store()
        return store.presets(_session(session_id)), store.tags(_session(session_id))

    def update_annotation(self, session_id, ann_id, verdict=None, correct_token=None,
                          tag=None, note=None):
        fields = {"verdict": verdict or None, "correct_token": correct_token or None,
                  "tag": tag or None, "note": note or None}
        ann_id = whole_number(ann_id, "annotation id")
        return self._store().update(ann_id, _session(session_id), **fields).to_dict()

    def delete_annotation(self, session_id, ann_id):
        ann_id = whole_number(ann_id, "annotation id")
        self._store().delete(ann_id, _session(session_id))
        return {"deleted": ann_id}

    def import_annotations(self, session_id, path):
        if not path:
            raise InputError("Choose a .csv or .jsonl file to import.")
        fmt = Path(path).suffix.lower().lstrip(".")
        if fmt not in ("csv", "jsonl", "json"):
            raise InputError(f"Import reads .csv or .jsonl files, not {Path(path).name!r}.")
        count = self._store().import_file(path, "jsonl" if fmt == "json" else fmt,
                                          _session(session_id))
        return {"imported": count}

    def export_annotations(self, session_id, fmt="csv", query=None, preset=None, tag=None,
                           verdict="any", since=None, until=None):
        """Write the matching rows to a fresh temporary file and return its path."""
        store = self._store()
        if fmt not in EXPORT_FORMATS:
            raise InputError(f"Export format must be one of {', '.join(EXPORT_FORMATS)}.")
        filters = self._filters(query, preset, tag, verdict, since, until)
        filters["session_id"] = _session(session_id)
        folder = Path(tempfile.mkdtemp(prefix="albert_demo_export_"))
        if fmt == "csv":
            path = folder / "annotations.csv"
            path.write_text(store.export_csv(**filters), encoding="utf-8")
        elif fmt == "jsonl":
            path = folder / "annotations.jsonl"
            path.write_text(store.export_jsonl(**filters), encoding="utf-8")
        else:
            dataset = store.export_hf_dataset(folder / "annotations", **filters)
            path = Path(shutil.make_archive(str(folder / "annotations_hf_dataset"), "zip",
                                            dataset))
        return str(path)

    def evaluate(self, session_id, presets, progress=None):
        """Top-1/top-5 of each preset on the person's annotated masks (gold = the
        corrected word, or the shown best guess when judged right)."""
        rows = self._store().search(session_id=_session(session_id), limit=None)
        items = evaluation_items(rows)
        if not items:
            raise InputError("No annotated masks with a known right word yet: mark "
                             "predictions right, or type the right word, then evaluate.")
        presets = [p for p in (presets or []) if p] or [self.default_preset]
        scores = []
        for n, preset in enumerate(presets):
            if progress:
                progress(n / len(presets), f"evaluating {preset}")
            scores.append(self._evaluate_one(self.model(preset), items))
        return scores

    @staticmethod
    def _evaluate_one(model, items):
        usable = []
        for text, gold in items:
            try:
                model.encode(text)
                usable.append((text, gold.lower()))
            except InputError:  # e.g. longer than this model's window
                pass
        top1 = top5 = 0
        for start in range(0, len(usable), EVAL_BATCH):
            chunk = usable[start:start + EVAL_BATCH]
            # Pad to a fixed batch so evaluation compiles one program per length.
            texts = [t for t, _ in chunk] + [chunk[-1][0]] * (EVAL_BATCH - len(chunk))
            results = model.predict_batch(texts, 5)[:len(chunk)]
            for (_, gold), result in zip(chunk, results):
                guesses = [p["token"].lower() for p in result["masks"][0]["predictions"]]
                top1 += guesses[0] == gold
                top5 += gold in guesses
        n = max(len(usable), 1)
        return {"preset": model.name, "items": len(usable),
                "skipped": len(items) - len(usable), "top1": top1 / n, "top5": top5 / n}


def official_preset_note():
    names = ", ".join(OFFICIAL_PRESETS)
    return (f"Official presets ({names}) are downloaded from Hugging Face on first use; "
            "offline, pick the embedded preset.")


def data_dir_from_env():
    return Path(os.environ.get("ALBERT_DEMO_DATA_DIR", "./.albert_demo_data")).resolve()
