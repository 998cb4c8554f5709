"""A person's own annotations: judge a prediction, search, edit, delete, import, export.

Every call names the caller (`session_id`); rows are private to it unless the server
shares them."""

import datetime as dt
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from albert_demo import settings
from albert_demo.annotations import AnnotationError
from albert_demo.annotations.formats import ImportDefaults
from albert_demo.engine.errors import InputError, text_or_none, whole_number
from albert_demo.callers import caller_id

EXPORT_FORMATS = ("csv", "jsonl", "hf-dataset")
VERDICT_FILTERS = ("any", "right", "wrong", "none")
# Gradio copies a returned file into its own cache while answering, so our copy is needed
# for seconds; 5 minutes covers the slowest export (150k rows as a dataset zip: ~10 s).
EXPORT_KEEP_S = 300

log = logging.getLogger(__name__)


class ExportFolder:
    """Where exports are written: one fresh folder per export under `root`, each removed
    once older than `keep_s` (swept before every export, and by a timer while any is
    left). Nothing is written to the system temp folder."""

    def __init__(self, root, keep_s=EXPORT_KEEP_S):
        self.root = Path(root)
        self.keep_s = keep_s
        self._timer = None
        self._lock = threading.Lock()

    def new(self):
        self.sweep()
        self.root.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="export-", dir=self.root))
        self._schedule()
        return folder

    def sweep(self, keep_s=None):
        """Remove exports older than `keep_s` (default: the folder's); -> how many left."""
        keep_s = self.keep_s if keep_s is None else keep_s
        left = 0
        for folder in self.root.glob("export-*"):
            try:
                old = time.time() - folder.stat().st_mtime >= keep_s
            except OSError:
                continue
            if old:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                left += 1
        return left

    def _schedule(self):
        with self._lock:
            if self._timer is None or not self._timer.is_alive():
                self._timer = threading.Timer(self.keep_s + 1, self._sweep_later)
                self._timer.daemon = True
                self._timer.start()

    def _sweep_later(self):
        try:
            left = self.sweep()
        except OSError:
            log.exception("could not sweep %s", self.root)
            return
        with self._lock:
            self._timer = None
        if left:
            self._schedule()


def _day(value, name):
    if value is None or not str(value).strip():
        return None
    try:
        day = dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"{name} must be a date like 2025-01-31, not {value!r}.") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def filters(query=None, preset=None, tag=None, verdict="any", since=None, until=None):
    """Search filters from form values: blanks mean "any"."""
    return {"query": query or None, "preset": preset or None, "tag": tag or None,
            "verdict": None if verdict in (None, "", "any") else verdict,
            "since": _day(since, "From"), "until": _day(until, "Until")}


class AnnotationService:
    """store: `AnnotationStore` (None: annotations are off); predictions: the
    `PredictionService` that re-computes what was shown when a caller does not send it;
    exports_dir: where export files are written (default: the data folder's `exports/`)."""

    def __init__(self, store, predictions, exports_dir=None):
        self.store = store
        self.predictions = predictions
        self.exports = ExportFolder(exports_dir or settings.current().data_dir / "exports")

    def _store(self):
        if self.store is None:
            raise AnnotationError("Annotations are not enabled on this server.")
        return self.store

    def annotate(self, session_id, preset, text, mask_ordinal=0, verdict=None,
                 correct_token=None, tag=None, note=None, shown=None):
        """Save one judgement of one [MASK]. `shown`: the predictions JSON the person saw
        (re-computed with top-10 when missing, e.g. from the API)."""
        store = self._store()
        owner = caller_id(session_id)
        preset = self.predictions.preset_name(preset)
        if not shown or shown.get("text") != text or shown.get("preset") != preset:
            shown = {"result": self.predictions.predict(text, preset, 10, session_id=owner)}
        masks = shown["result"]["masks"]
        ordinal = whole_number(mask_ordinal, "mask_ordinal")
        if not 0 <= ordinal < len(masks):
            raise InputError(f"Mask number {ordinal + 1} does not exist: the text has "
                             f"{len(masks)} [MASK].")
        row = store.add(session_id=owner, preset=preset, text=text,
                        mask_index=masks[ordinal]["index"], mask_ordinal=ordinal,
                        predictions=masks[ordinal]["predictions"],
                        verdict=verdict or None, correct_token=correct_token or None,
                        tag=tag or None, note=note or None)
        return row.to_dict()

    def search(self, session_id, query=None, preset=None, tag=None, verdict="any",
               since=None, until=None, limit=500):
        rows = self._store().search(session_id=caller_id(session_id), limit=limit,
                                    **filters(query, preset, tag, verdict, since, until))
        return [r.to_dict() for r in rows]

    def rows(self, session_id):
        """All of the caller's rows (for evaluation and training)."""
        return self._store().search(session_id=caller_id(session_id), limit=None)

    def filter_choices(self, session_id):
        store, owner = self._store(), caller_id(session_id)
        return store.presets(owner), store.tags(owner)

    def get(self, session_id, ann_id):
        """One of the caller's rows, to load into the edit form."""
        ann_id = whole_number(ann_id, "annotation id")
        row = self._store().get(ann_id, caller_id(session_id))
        if row is None:
            raise self._store()._not_yours(ann_id)
        return row.to_dict()

    def update(self, session_id, ann_id, verdict=None, correct_token=None, tag=None,
               note=None):
        """Change only the fields given; returns the row as stored now.

        For each field, None (or leaving it out) keeps the stored value; "" clears it; any
        other text replaces it. verdict: "right" or "wrong" sets it, "" or "none" clears it
        (the row is then unjudged). Nothing given: the row is returned unchanged.
        """
        ann_id = whole_number(ann_id, "annotation id")
        given = {"verdict": verdict, "correct_token": correct_token, "tag": tag,
                 "note": note}
        fields = {}
        for name, value in given.items():
            value = text_or_none(value, name)
            if value is None:
                continue  # leave as is
            if name == "verdict" and value == "none":
                value = ""
            fields[name] = value or None  # "" clears
        if not fields:
            return self.get(session_id, ann_id)
        return self._store().update(ann_id, caller_id(session_id), **fields).to_dict()

    def delete(self, session_id, ann_id):
        ann_id = whole_number(ann_id, "annotation id")
        self._store().delete(ann_id, caller_id(session_id))
        return {"deleted": ann_id}

    def import_file(self, session_id, path):
        """Import a .csv or .jsonl file into the caller's rows. Rows may leave out preset
        (the default preset is assumed) and mask_index (worked out from the text's first
        [MASK], or its mask_ordinal-th); a CSV needs only a `text` column, e.g.
        text,correct_token,tag. -> {"imported": n}, plus "preset" and "preset_assumed"
        (how many rows got it) when some rows named no preset."""
        owner = caller_id(session_id)
        path = text_or_none(path, "file")
        if not path:
            raise InputError("Choose a .csv or .jsonl file to import.")
        fmt = Path(path).suffix.lower().lstrip(".")
        if fmt not in ("csv", "jsonl", "json"):
            raise InputError(f"Import reads .csv or .jsonl files, not {Path(path).name!r}.")
        preset = self.predictions.default_preset
        defaults = ImportDefaults(preset, self._mask_index_of(preset))
        count = self._store().import_file(path, "jsonl" if fmt == "json" else fmt, owner,
                                          defaults=defaults)
        if not defaults.defaulted:
            return {"imported": count}
        return {"imported": count, "preset": preset, "preset_assumed": defaults.defaulted}

    def _mask_index_of(self, preset):
        """(text, ordinal) -> token position of that [MASK] under `preset`'s tokenizer (the
        model is loaded only when a row needs it)."""
        def mask_index_of(text, ordinal):
            tokenizer = self.predictions.model(preset).tokenizer
            ids = np.asarray(tokenizer(text))
            positions = np.flatnonzero(ids == tokenizer.mask_token_id)
            if ordinal >= len(positions):
                raise AnnotationError(f"{preset}'s tokenizer does not read [MASK] number "
                                      f"{ordinal + 1} in this text as a mask; give "
                                      "mask_index", field="mask_index")
            return 1 + int(positions[ordinal])  # position 0 is [CLS]
        return mask_index_of

    def export(self, session_id, fmt="csv", query=None, preset=None, tag=None,
               verdict="any", since=None, until=None):
        """Write the matching rows to a fresh file in the export folder and return its
        path (the folder is removed a few minutes later: download it right away)."""
        store = self._store()
        if fmt not in EXPORT_FORMATS:
            raise InputError(f"Export format must be one of {', '.join(EXPORT_FORMATS)}.")
        chosen = filters(query, preset, tag, verdict, since, until)
        chosen["session_id"] = caller_id(session_id)
        folder = self.exports.new()
        try:
            if fmt == "csv":
                path = folder / "annotations.csv"
                path.write_text(store.export_csv(**chosen), encoding="utf-8")
            elif fmt == "jsonl":
                path = folder / "annotations.jsonl"
                path.write_text(store.export_jsonl(**chosen), encoding="utf-8")
            else:
                dataset = store.export_hf_dataset(folder / "annotations", **chosen)
                path = Path(shutil.make_archive(str(folder / "annotations_hf_dataset"),
                                                "zip", dataset))
                shutil.rmtree(dataset)  # the zip is what is served
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return str(path)
