"""Uploaded text -> a list of passages, with clear messages for files we cannot use.

`.txt` / `.md`: one passage per line, or per paragraph when blank lines separate blocks of
several lines. `.csv` / `.jsonl`: one passage per row, from a column / field chosen by name.
No keras or jax here: the UI calls these on every upload.

Example:
```python
upload = read_upload("notes.csv")      # columns found, default column guessed
upload.columns                         # ["id", "text"]
passages = upload.passages("text")
preview(passages, tokenizer, validation_share=0.1)
```
"""

import contextlib
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from albert_demo import settings
from albert_demo.errors import UserError
from albert_demo.uploads import UploadError, decode_text, jsonl_objects, read_bytes, too_large

TEXT_SUFFIXES = (".txt", ".md")
TABLE_SUFFIXES = (".csv", ".jsonl")
LIKELY_TEXT_NAMES = ("text", "passage", "sentence", "content", "body", "document")


class FinetuneDataError(UserError, ValueError):
    """The upload (or the settings) cannot be used; the message says what to do."""


def max_upload_bytes():
    """`ALBERT_DEMO_MAX_UPLOAD_BYTES`, default 5 MB."""
    return settings.current().max_upload_bytes


@contextlib.contextmanager
def _upload_errors(filename=None):
    """An unreadable upload (albert_demo/uploads.py) is a FinetuneDataError here, named."""
    try:
        yield
    except UploadError as error:
        named = not filename or filename in str(error)
        raise FinetuneDataError(str(error) if named else f"{filename}: {error}") from None


def decode_upload(raw, filename="upload", limit=None):
    """bytes -> str: size limit, no binary, UTF-8 (a BOM is allowed and dropped)."""
    limit = max_upload_bytes() if limit is None else limit
    with _upload_errors():
        if len(raw) > limit:
            raise too_large(filename, len(raw), limit)
        text = decode_text(raw, filename)
    if not text.strip():
        raise FinetuneDataError(f"{filename} is empty: upload a file with at least one "
                                "passage of text.")
    return text


def split_plain_text(text):
    """Paragraphs when blank lines separate multi-line blocks, otherwise lines."""
    blocks = [b for b in _blocks(text) if b]
    if len(blocks) > 1 and any(len(block) > 1 for block in blocks):
        return [" ".join(line.strip() for line in block) for block in blocks]
    return [line.strip() for line in text.splitlines() if line.strip()]


def _blocks(text):
    block = []
    for line in text.splitlines():
        if line.strip():
            block.append(line)
        else:
            yield block
            block = []
    yield block


def _csv_rows(text, filename):
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = list(reader)
    except csv.Error as error:
        raise FinetuneDataError(f"{filename}: malformed CSV on line {reader.line_num} "
                                f"({error}). Fix that line and upload again.") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise FinetuneDataError(f"{filename} is empty: upload a CSV with a header row.")
    header = [h.strip() for h in rows[0]]
    return header, [dict(zip(header, r)) for r in rows[1:]]


def _jsonl_rows(text, filename):
    rows, fields = [], {}
    with _upload_errors(filename):
        for _, row in jsonl_objects(text):
            for key, value in row.items():
                if isinstance(value, str):
                    fields.setdefault(key, None)
            rows.append(row)
    return list(fields), rows


@dataclass
class Upload:
    """A decoded upload: its passages (plain text) or rows and text columns (tables)."""
    filename: str
    kind: str  # "text", "csv" or "jsonl"
    columns: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    lines: list = field(default_factory=list)

    @property
    def default_column(self):
        lowered = {c.lower(): c for c in self.columns}
        for name in LIKELY_TEXT_NAMES:
            if name in lowered:
                return lowered[name]
        return self.columns[0] if len(self.columns) == 1 else None

    def passages(self, column=None):
        if self.kind == "text":
            return list(self.lines)
        column = column or self.default_column
        what = "column" if self.kind == "csv" else "field"
        if not column or column not in self.columns:
            found = ", ".join(repr(c) for c in self.columns) or "none"
            asked = f"There is no {what} {column!r}" if column else f"Choose the text {what}"
            raise FinetuneDataError(f"{self.filename}: {asked}; its text {what}s are: "
                                    f"{found}.")
        out = [str(r.get(column) or "").strip() for r in self.rows]
        out = [" ".join(p.split()) for p in out if p]
        if not out:
            raise FinetuneDataError(f"{self.filename}: the {what} {column!r} has no text in "
                                    "any row.")
        return out


def read_upload(path_or_bytes, filename=None, limit=None):
    """A file path (or bytes + filename) -> `Upload`. Raises FinetuneDataError."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        raw, filename = bytes(path_or_bytes), filename or "upload.txt"
    else:
        filename = filename or Path(path_or_bytes).name
        limit = max_upload_bytes() if limit is None else limit
        with _upload_errors():
            raw, _ = read_bytes(path_or_bytes, limit, filename)
    suffix = Path(filename).suffix.lower()
    if suffix not in TEXT_SUFFIXES + TABLE_SUFFIXES:
        raise FinetuneDataError(f"{filename}: unsupported file type {suffix or '(none)'!r}; "
                                "upload .txt, .md, .csv or .jsonl.")
    text = decode_upload(raw, filename, limit)
    if suffix in TEXT_SUFFIXES:
        return Upload(filename, "text", lines=split_plain_text(text))
    if suffix == ".csv":
        columns, rows = _csv_rows(text, filename)
        return Upload(filename, "csv", columns=columns, rows=rows)
    columns, rows = _jsonl_rows(text, filename)
    if not columns:
        raise FinetuneDataError(f"{filename}: no line has a text field; each line must look "
                                'like {"text": "..."}.')
    return Upload(filename, "jsonl", columns=columns, rows=rows)


def split_passages(passages, validation_share=0.1, seed=0):
    """Deterministic (train, valid) split; at least one passage on each side when asked."""
    passages = list(passages)
    if not 0 <= validation_share < 1:
        raise FinetuneDataError("The validation share must be at least 0 and below 1, "
                                "e.g. 0.1.")
    n = len(passages)
    n_valid = int(round(n * validation_share))
    if validation_share > 0:
        n_valid = max(1, n_valid)
    if n - n_valid < 1:
        raise FinetuneDataError(f"{n} passage(s) are too few to keep a validation share of "
                                f"{validation_share:g}: add text or lower the share.")
    order = np.random.default_rng(seed).permutation(n)
    valid = {int(i) for i in order[:n_valid]}
    return ([p for i, p in enumerate(passages) if i not in valid],
            [p for i, p in enumerate(passages) if i in valid])


def _shortened(text, limit=160):
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def preview(passages, tokenizer, validation_share=0.1, seed=0, sequence_length=128,
            samples=3, mask_rate=0.15, min_validation_masks=50):
    """What is shown before training: counts (passages, tokens, the split, how many get
    cut), a few passages of each side as they were read, and a note when the validation
    split is too small for its scores to mean much."""
    if not passages:
        raise FinetuneDataError("There is no text to train on: upload a file or use your "
                                "annotations.")
    train, valid = split_passages(passages, validation_share, seed)
    lengths = {p: len(ids) for p, ids in zip(passages, tokenizer(list(passages)))}
    budget = sequence_length - 2
    # Every figure counts each passage as often as it occurs (a repeated line is trained on
    # as often), so tokens == train_tokens + valid_tokens.
    masks = round(mask_rate * sum(min(lengths[p], budget) for p in valid))
    counts = {"passages": len(passages), "tokens": sum(lengths[p] for p in passages),
              "train_passages": len(train), "train_tokens": sum(lengths[p] for p in train),
              "valid_passages": len(valid), "valid_tokens": sum(lengths[p] for p in valid),
              "valid_masked_tokens_about": masks,
              "truncated_passages": sum(lengths[p] > budget for p in passages),
              "sequence_length": sequence_length,
              "what_these_count": (
                  "tokens: the model's word pieces (SentencePiece), before passages longer "
                  f"than sequence_length - 2 = {budget} are cut; valid_masked_tokens_about: "
                  f"{mask_rate:.0%} of the validation tokens that fit, the pieces the "
                  "before/after accuracies are scored on; the run draws them at random, "
                  "so its count differs a little from this estimate."),
              "sample_train_passages": [_shortened(p) for p in train[:samples]],
              "sample_validation_passages": [_shortened(p) for p in valid[:samples]]}
    if valid and masks < min_validation_masks:
        counts["note"] = (f"The validation split will have about {masks} masked tokens, too "
                          "few for the before/after accuracies to mean much "
                          f"({min_validation_masks} or more is better): add text or raise "
                          "the validation share.")
    return counts
