"""A person's own annotations: judge a prediction, search, edit, delete, import, export.

Every call names the caller (`session_id`); rows are private to it unless the server
shares them."""

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from albert_demo.annotations import AnnotationError
from albert_demo.engine.errors import InputError, text_or_none, whole_number
from albert_demo.services.callers import caller_id

EXPORT_FORMATS = ("csv", "jsonl", "hf-dataset")
VERDICT_FILTERS = ("any", "right", "wrong", "none")


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
    `PredictionService` that re-computes what was shown when a caller does not send it."""

    def __init__(self, store, predictions):
        self.store = store
        self.predictions = predictions

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

    def update(self, session_id, ann_id, verdict=None, correct_token=None, tag=None,
               note=None):
        fields = {"verdict": verdict or None, "correct_token": correct_token or None,
                  "tag": tag or None, "note": note or None}
        ann_id = whole_number(ann_id, "annotation id")
        return self._store().update(ann_id, caller_id(session_id), **fields).to_dict()

    def delete(self, session_id, ann_id):
        ann_id = whole_number(ann_id, "annotation id")
        self._store().delete(ann_id, caller_id(session_id))
        return {"deleted": ann_id}

    def import_file(self, session_id, path):
        owner = caller_id(session_id)
        path = text_or_none(path, "file")
        if not path:
            raise InputError("Choose a .csv or .jsonl file to import.")
        fmt = Path(path).suffix.lower().lstrip(".")
        if fmt not in ("csv", "jsonl", "json"):
            raise InputError(f"Import reads .csv or .jsonl files, not {Path(path).name!r}.")
        count = self._store().import_file(path, "jsonl" if fmt == "json" else fmt, owner)
        return {"imported": count}

    def export(self, session_id, fmt="csv", query=None, preset=None, tag=None,
               verdict="any", since=None, until=None):
        """Write the matching rows to a fresh temporary file and return its path."""
        store = self._store()
        if fmt not in EXPORT_FORMATS:
            raise InputError(f"Export format must be one of {', '.join(EXPORT_FORMATS)}.")
        chosen = filters(query, preset, tag, verdict, since, until)
        chosen["session_id"] = caller_id(session_id)
        folder = Path(tempfile.mkdtemp(prefix="albert_demo_export_"))
        if fmt == "csv":
            path = folder / "annotations.csv"
            path.write_text(store.export_csv(**chosen), encoding="utf-8")
        elif fmt == "jsonl":
            path = folder / "annotations.jsonl"
            path.write_text(store.export_jsonl(**chosen), encoding="utf-8")
        else:
            dataset = store.export_hf_dataset(folder / "annotations", **chosen)
            path = Path(shutil.make_archive(str(folder / "annotations_hf_dataset"), "zip",
                                            dataset))
        return str(path)
