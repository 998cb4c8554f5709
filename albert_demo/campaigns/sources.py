"""Where a campaign's sentences come from: a .txt/.csv/.jsonl file, a Hugging Face
`datasets` folder, or rows of the annotation store. Pure parsing: every line is checked
before anything is stored, and the first bad one is named."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from albert_demo.annotations.training import gold_token
from albert_demo.campaigns.errors import CampaignError
from albert_demo.masks import MASK
from albert_demo.uploads import UploadError, decode_text, jsonl_objects, read_bytes

MAX_ITEMS = 5000
MAX_TEXT = 2000
MAX_WORD = 100
MAX_MASKS = 5  # per item: more is no longer one glance for an annotator
DEFAULT_MAX_BYTES = 5 * 1024 * 1024


def _record(text: Any, gold: Any, where: str) -> dict:
    """{"text", "reference"}: reference is a list (one per [MASK]) or None."""
    if not isinstance(text, str) or not text.strip():
        raise CampaignError(f"{where}: 'text' is missing or empty.")
    text = " ".join(text.split())
    if len(text) > MAX_TEXT:
        raise CampaignError(f"{where}: the text is {len(text)} characters; at most "
                            f"{MAX_TEXT} are accepted.")
    if text.count(MASK) > MAX_MASKS:
        raise CampaignError(f"{where}: {text.count(MASK)} {MASK} in one sentence; a campaign "
                            f"item holds at most {MAX_MASKS}.")
    if gold in (None, "", []):
        return {"text": text, "reference": None}
    if isinstance(gold, str):
        gold = json.loads(gold) if gold.strip().startswith("[") else gold.split("|")
    if not isinstance(gold, list) or not all(isinstance(g, str) or g is None for g in gold):
        raise CampaignError(f"{where}: 'gold' must be a word, words separated by '|', "
                            "or a JSON list of words.")
    gold = [g.strip() or None if isinstance(g, str) else None for g in gold]
    if any(g and len(g) > MAX_WORD for g in gold):
        raise CampaignError(f"{where}: a gold word is longer than {MAX_WORD} characters.")
    if text.count(MASK) != len(gold):
        raise CampaignError(f"{where}: {len(gold)} gold word(s) for {text.count(MASK)} "
                            f"{MASK}: give one per {MASK} (separate them with '|').")
    return {"text": text, "reference": gold}


def _from_mapping(row: Any, where: str) -> dict:
    if not isinstance(row, dict):
        raise CampaignError(f"{where}: expected an object with a 'text' field.")
    return _record(row.get("text"), row.get("gold"), where)


def _parse_txt(text: str) -> list[dict]:
    return [_record(line, None, f"line {n}") for n, line in enumerate(text.split("\n"), 1)
            if line.strip()]


def _parse_jsonl(text: str) -> list[dict]:
    return [_from_mapping(row, f"line {n}") for n, row in jsonl_objects(text)]


def _parse_csv(text: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        if not reader.fieldnames or "text" not in [f.strip() for f in reader.fieldnames]:
            raise CampaignError("line 1: the CSV needs a 'text' column (and optionally "
                                "'gold').")
        return [_from_mapping({k.strip(): v for k, v in row.items() if k}, f"line {n + 2}")
                for n, row in enumerate(reader)]
    except csv.Error as e:
        raise CampaignError(f"line {reader.line_num}: malformed CSV ({e}).") from None


def _parse_hf_folder(folder: Path) -> list[dict]:
    try:
        import datasets
    except ImportError:
        raise CampaignError("Reading a Hugging Face datasets folder needs the `datasets` "
                            "package: pip install datasets, or upload .jsonl/.csv.") from None
    try:
        if (folder / "dataset_info.json").exists() or (folder / "state.json").exists():
            data = datasets.load_from_disk(str(folder))
        else:
            data = datasets.load_dataset(str(folder))
    except Exception as e:  # datasets raises many kinds; the message is what helps
        raise CampaignError(f"Could not read {folder.name} as a datasets folder: {e}") from None
    if isinstance(data, datasets.DatasetDict):
        data = data["train"] if "train" in data else next(iter(data.values()))
    if "text" not in data.column_names:
        raise CampaignError(f"The dataset has no 'text' column (columns: "
                            f"{', '.join(data.column_names)}).")
    return [_from_mapping(row, f"row {n + 1}") for n, row in enumerate(data)]


def read_file(source: Any, fmt: str | None = None,
              max_bytes: int = DEFAULT_MAX_BYTES) -> list[dict]:
    """Records [{"text", "reference"}] from a path, bytes or a binary file object."""
    if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        records = _parse_hf_folder(Path(source))
    else:
        try:  # the upload checks every feature shares: size, NUL bytes, UTF-8, JSON lines
            data, name = read_bytes(source, max_bytes)
            text = decode_text(data, name)
            fmt = (fmt or (Path(name).suffix.lstrip(".") if name else "")).lower()
            parsers = {"txt": _parse_txt, "text": _parse_txt, "csv": _parse_csv,
                       "jsonl": _parse_jsonl, "json": _parse_jsonl, "ndjson": _parse_jsonl}
            if fmt not in parsers:
                raise CampaignError(f"Unsupported file type {fmt!r}: use .txt (one sentence "
                                    "a line), .csv or .jsonl (a 'text' field, optional "
                                    "'gold'), or a Hugging Face datasets folder.")
            records = parsers[fmt](text)
        except UploadError as e:
            raise CampaignError(str(e)) from None
    return checked_count(records)


def checked_count(records: list[dict]) -> list[dict]:
    if not records:
        raise CampaignError("The source has no sentences: nothing to annotate.")
    if len(records) > MAX_ITEMS:
        raise CampaignError(f"The source has {len(records):,} sentences; a campaign holds "
                            f"at most {MAX_ITEMS:,}. Split it.")
    return records


def from_annotations(rows: list) -> list[dict]:
    """One record per annotated text; the annotation's gold word (if any) is its reference."""
    by_text: dict[str, list] = {}
    for row in rows:
        refs = by_text.setdefault(row.text, [None] * row.text.count(MASK))
        if row.mask_ordinal < len(refs) and refs[row.mask_ordinal] is None:
            refs[row.mask_ordinal] = gold_token(row)
    records = [{"text": " ".join(text.split()),
                "reference": refs if any(r is not None for r in refs) else None}
               for text, refs in by_text.items()]
    return checked_count(records)
