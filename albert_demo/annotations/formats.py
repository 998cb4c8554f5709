"""CSV / JSONL / Hugging Face dataset export and validated import."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import io
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable

from albert_demo.masks import MASK
from albert_demo.uploads import UploadError, decode_text, jsonl_objects, parse_json, read_bytes

from .validation import AnnotationError, validate_record

# Exported columns.  session_id is deliberately never exported (it is the
# anonymous owner id; publishing it would link a person's annotations).
EXPORT_FIELDS = [
    "id",
    "created_at",
    "updated_at",
    "preset",
    "text",
    "mask_index",
    "mask_ordinal",
    "predictions",
    "verdict",
    "correct_token",
    "tag",
    "note",
]
_IMPORT_IGNORED = {"id", "session_id"}
_REQUIRED = {"preset", "text", "mask_index"}

# Shape limits on imported data, checked before anything else so a hostile file gets a
# short message. An annotation nests 3 levels ({"predictions": [{...}]}) and has 12 fields.
MAX_JSON_DEPTH = 8
MAX_COLUMNS = 32

# A hand-written file needs only text (+ right word, tag): `ImportDefaults` fills the rest.
TEMPLATE_CSV = Path(__file__).with_name("template.csv")


@dataclasses.dataclass
class ImportDefaults:
    """What a hand-written file may leave out, filled in on import.

    preset: given to rows without one. mask_index_of(text, ordinal): the token position of
    the text's `ordinal`-th [MASK] under that preset's tokenizer (rows without a
    mask_ordinal use the first [MASK]). `defaulted` counts the rows that got the preset.
    Without defaults (None) an import needs preset, text and mask_index in every row.
    """

    preset: str
    mask_index_of: Callable[[str, int], int]
    defaulted: int = 0

    def fill(self, obj: dict) -> None:
        if obj.get("preset") in (None, ""):
            obj["preset"] = self.preset
            self.defaulted += 1
        text = obj.get("text")
        if obj.get("mask_index") in (None, "") and isinstance(text, str) and MASK in text:
            if obj["preset"] != self.preset:
                raise AnnotationError(
                    f"mask_index is missing; it is worked out only for rows of {self.preset} "
                    "(leave preset empty, or give mask_index)", field="mask_index")
            if obj.get("mask_ordinal") in (None, ""):
                obj["mask_ordinal"] = 0
            ordinal = obj["mask_ordinal"]
            if isinstance(ordinal, str) and ordinal.strip().isdecimal():
                ordinal = int(ordinal)
            if isinstance(ordinal, int) and not isinstance(ordinal, bool) and (
                    0 <= ordinal < text.count(MASK)):
                obj["mask_index"] = self.mask_index_of(text, ordinal)
            # else: validation names the bad mask_ordinal


def _names(names: Iterable[str], shown: int = 5) -> str:
    """A few names for a message, never all of a hostile file's thousands."""
    names = sorted(names)
    listed = ", ".join(repr(n[:40]) for n in names[:shown])
    return listed + (f" and {len(names) - shown:,} more" if len(names) > shown else "")


def _too_wide(count: int, what: str) -> AnnotationError | None:
    if count <= MAX_COLUMNS:
        return None
    return AnnotationError(f"{count:,} {what}: an annotation has at most "
                           f"{len(EXPORT_FIELDS)} ({', '.join(EXPORT_FIELDS)})")


DEPTH_NOTE = " (an annotation needs 3)"


@contextlib.contextmanager
def _upload_errors():
    """An unreadable upload (albert_demo/uploads.py) is an AnnotationError here."""
    try:
        yield
    except UploadError as e:
        raise AnnotationError(str(e), line=e.line) from None


HF_DATA_FILE = "data/train.jsonl"


def _as_dict(row: Any) -> dict:
    if hasattr(row, "to_dict"):
        return row.to_dict()
    return dict(row)


def _export_dict(row: Any) -> dict:
    d = _as_dict(row)
    out = {}
    for k in EXPORT_FIELDS:
        v = d.get(k)
        if isinstance(v, dt.datetime):
            v = v.isoformat()
        out[k] = v
    return out


def to_jsonl(rows: Iterable[Any]) -> str:
    return "".join(json.dumps(_export_dict(r), ensure_ascii=False) + "\n" for r in rows)


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection), so
# exported text that starts with one, or with the apostrophe itself, gets a leading
# apostrophe: spreadsheets show the text as typed, and our import takes it off again.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defuse(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START + ("'",)):
        return "'" + value
    return value


def _restore(value: str) -> str:
    if value.startswith("'") and value[1:].startswith(_FORMULA_START + ("'",)):
        return value[1:]
    return value


def to_csv(rows: Iterable[Any]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        d = _export_dict(r)
        d["predictions"] = json.dumps(d["predictions"] or [], ensure_ascii=False)
        w.writerow({k: ("" if v is None else _defuse(v)) for k, v in d.items()})
    return buf.getvalue()


_HF_README = """\
---
configs:
- config_name: default
  data_files:
  - split: train
    path: {data_file}
dataset_info:
  config_name: default
  features:
  - name: id
    dtype: int64
  - name: created_at
    dtype: string
  - name: updated_at
    dtype: string
  - name: preset
    dtype: string
  - name: text
    dtype: string
  - name: mask_index
    dtype: int64
  - name: mask_ordinal
    dtype: int64
  - name: predictions
    list:
    - name: token
      dtype: string
    - name: token_id
      dtype: int64
    - name: score
      dtype: float64
  - name: verdict
    dtype: string
  - name: correct_token
    dtype: string
  - name: tag
    dtype: string
  - name: note
    dtype: string
---

# albert-demo annotations

Masked-LM predictions annotated by users of the albert-demo app.
{n} rows. One JSON object per line in `{data_file}`:

| field | meaning |
|---|---|
| `id` | row id in the exporting database |
| `created_at`, `updated_at` | UTC, ISO 8601 |
| `preset` | model preset that produced the predictions |
| `text` | input text containing one or more `[MASK]` |
| `mask_index` | token position of the annotated mask |
| `mask_ordinal` | which `[MASK]` in `text` (0-based) |
| `predictions` | list of `{{token, token_id, score}}`, best first |
| `verdict` | `right`, `wrong` or null |
| `correct_token` | the word the annotator says belongs there, or null |
| `tag`, `note` | free-form annotator labels |

Load with `datasets.load_dataset("path/to/this/folder")`.
"""


def write_hf_dataset(out_dir: str | os.PathLike, rows: Iterable[Any]) -> Path:
    """Write ``data/train.jsonl`` + ``README.md`` (YAML ``configs:`` front
    matter) so ``datasets.load_dataset(out_dir)`` loads it directly."""
    rows = list(rows)
    if not rows:
        # `datasets` cannot load a split from an empty file.
        raise AnnotationError("nothing to export: the selection has no annotations")
    out = Path(out_dir)
    data = out / HF_DATA_FILE
    data.parent.mkdir(parents=True, exist_ok=True)
    tmp = data.with_suffix(".jsonl.tmp")
    tmp.write_text(to_jsonl(rows), encoding="utf-8")
    os.replace(tmp, data)
    (out / "README.md").write_text(
        _HF_README.format(data_file=HF_DATA_FILE, n=len(rows)), encoding="utf-8"
    )
    return out


# ------------------------------------------------------------------ import
def _parse_time(value: Any, field: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise AnnotationError(f"{field} must be an ISO 8601 string", field=field)
    try:
        t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise AnnotationError(f"{field} is not an ISO 8601 timestamp: {value[:40]!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc)


def _record(obj: dict, session_id: str, now: dt.datetime,
            defaults: ImportDefaults | None = None) -> dict:
    wide = _too_wide(len(obj), "fields")
    if wide:
        raise wide
    unknown = set(obj) - set(EXPORT_FIELDS) - _IMPORT_IGNORED
    if unknown:
        raise AnnotationError(f"unknown field(s) {_names(unknown)}")
    if defaults is not None:
        defaults.fill(obj)
    missing = _REQUIRED - {k for k, v in obj.items() if v not in (None, "")}
    if missing:
        raise AnnotationError(f"missing required field(s) {sorted(missing)}")
    fields = {k: obj.get(k) for k in EXPORT_FIELDS if k not in ("id", "created_at", "updated_at")}
    if fields["mask_ordinal"] in (None, ""):
        fields["mask_ordinal"] = 0
    rec = validate_record(session_id=session_id, **fields)
    created = _parse_time(obj.get("created_at"), "created_at") or now
    rec["created_at"] = created
    rec["updated_at"] = _parse_time(obj.get("updated_at"), "updated_at") or created
    return rec


def _line_error(e: AnnotationError, line: int) -> AnnotationError:
    return AnnotationError(f"line {line}: {e}", line=line, field=e.field)


def _parse_jsonl(text: str, session_id: str, now: dt.datetime,
                 defaults: ImportDefaults | None = None) -> list[dict]:
    with _upload_errors():
        return [_line_record(obj, lineno, session_id, now, defaults)
                for lineno, obj in jsonl_objects(text, MAX_JSON_DEPTH, DEPTH_NOTE)]


def _line_record(obj: dict, lineno: int, session_id: str, now: dt.datetime,
                 defaults: ImportDefaults | None = None) -> dict:
    """One imported row (predictions may arrive as a JSON string); errors name the line."""
    if isinstance(obj.get("predictions"), str):
        value = obj["predictions"]
        with _upload_errors():
            obj["predictions"] = [] if not value.strip() else parse_json(
                value, lineno, MAX_JSON_DEPTH, "predictions: ", DEPTH_NOTE)
    try:
        return _record(obj, session_id, now, defaults)
    except AnnotationError as e:
        raise _line_error(e, lineno) from None


def _parse_csv(text: str, session_id: str, now: dt.datetime,
               defaults: ImportDefaults | None = None) -> list[dict]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return []
    except csv.Error as e:
        raise AnnotationError(f"line 1: malformed CSV header ({e})", line=1) from None
    wide = _too_wide(len(header), "CSV columns")
    if wide:
        raise _line_error(wide, 1)
    header = [h.strip() for h in header]
    unknown = set(header) - set(EXPORT_FIELDS) - _IMPORT_IGNORED
    if unknown:
        raise AnnotationError(f"line 1: unknown CSV column(s) {_names(unknown)}", line=1)
    missing = (_REQUIRED if defaults is None else {"text"}) - set(header)
    if missing:
        raise AnnotationError(f"line 1: missing CSV column(s) {sorted(missing)}", line=1)
    out = []
    prev_end = reader.line_num
    while True:
        start = prev_end + 1  # physical line where this record begins
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise AnnotationError(f"line {start}: malformed CSV ({e})", line=start) from None
        prev_end = reader.line_num
        if not values or all(v == "" for v in values):
            continue
        if len(values) != len(header):
            raise AnnotationError(
                f"line {start}: expected {len(header)} columns, found {len(values)}", line=start
            )
        obj: dict[str, Any] = {k: (None if v == "" else _restore(v))
                               for k, v in zip(header, values)}
        out.append(_line_record(obj, start, session_id, now, defaults))
    return out


def parse_import(source: Any, fmt: str | None, session_id: str, *, max_bytes: int,
                 defaults: ImportDefaults | None = None) -> list[dict]:
    """Read, decode and validate everything; returns insertable records. With `defaults`,
    rows may leave out preset and mask_index (a CSV then needs only a `text` column)."""
    with _upload_errors():
        data, name = read_bytes(source, max_bytes)
    if fmt is None and name:
        fmt = Path(name).suffix.lstrip(".")
    fmt = (fmt or "").lower()
    if fmt in ("json", "ndjson"):
        fmt = "jsonl"
    if fmt not in ("csv", "jsonl"):
        raise AnnotationError(f"unsupported import format {fmt!r}; use 'csv' or 'jsonl'")
    with _upload_errors():
        text = decode_text(data, name)
    now = dt.datetime.now(dt.timezone.utc)
    return (_parse_csv if fmt == "csv" else _parse_jsonl)(text, session_id, now, defaults)
