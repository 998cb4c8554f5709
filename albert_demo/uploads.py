"""Uploaded files -> text and JSON lines, with the same checks and messages everywhere.

Annotation imports (`annotations/formats.py`), fine-tuning texts (`finetune/data.py`) and
campaign sources read uploads through here: the size is checked before anything is read
into memory, a file with NUL bytes is refused as binary, text is UTF-8 (a BOM is dropped),
and JSONL is one JSON value per "\\n"-separated line. Messages name the file by its base
name only (an upload's path is a server path) and the line, so a person can fix the file.

    data, name = read_bytes("notes.jsonl", max_bytes=5_000_000)
    text = decode_text(data, name)
    for line, row in jsonl_objects(text):
        ...
"""

import json
import os
from pathlib import Path

from albert_demo.errors import UserError


class UploadError(UserError, ValueError):
    """An upload cannot be read; `line` is the 1-based line the problem is on, if known.
    Callers with an error class of their own re-raise the message as theirs."""

    def __init__(self, message, line=None):
        super().__init__(message)
        self.line = line


def size_text(n):
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def _label(name):
    return Path(name).name if name else "the upload"


def too_large(name, size, max_bytes):
    return UploadError(f"{_label(name)} is too large: {size_text(size)}; uploads are limited "
                       f"to {size_text(max_bytes)}. Upload a smaller file or split it.")


def read_bytes(source, max_bytes, name=None):
    """(bytes, name) from a path, bytes or a binary file object, at most `max_bytes`: a
    path's size is checked before it is read, anything else reads one byte past the limit."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        name = name or os.fspath(source)
        try:
            size = os.path.getsize(source)
            if size > max_bytes:
                raise too_large(name, size, max_bytes)
            with open(source, "rb") as f:
                data = f.read(max_bytes + 1)
        except OSError as e:
            raise UploadError(f"Cannot read {_label(name)}: {e.strerror or e}.") from None
    elif hasattr(source, "read"):
        data = source.read(max_bytes + 1)
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        name = name or getattr(source, "name", None)
    else:
        raise TypeError("an upload must be a path, bytes or a binary file object")
    if len(data) > max_bytes:
        raise too_large(name, len(data), max_bytes)
    return data, name


def decode_text(data, name=None):
    """bytes -> str: no NUL bytes (a binary file, or an archive renamed), UTF-8 with an
    optional BOM. The error names the line of the first byte that is not UTF-8."""
    if b"\x00" in data:
        raise UploadError(f"{_label(name)} looks like a binary file (it contains NUL bytes). "
                          "Upload plain UTF-8 text.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise UploadError(f"line {line}: {_label(name)} is not UTF-8 text (byte "
                          f"0x{data[e.start]:02X} cannot be decoded). Save the file as UTF-8 "
                          "and upload it again.", line=line) from None


def _deeper_than(value, limit):
    """Whether lists and dicts nest more than `limit` levels in `value`; walked without
    recursion, and stops at the first branch past the limit."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth + 1 > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def parse_json(text, line, max_depth=None, what="", depth_note="", hint=""):
    """json.loads for one line (or one field: `what` says which, e.g. "predictions: "),
    at most `max_depth` levels deep (`depth_note` says why); errors name the line, and
    `hint` follows the message for JSON that does not parse."""
    too_deep = UploadError(f"line {line}: {what}JSON is nested more than {max_depth} levels "
                           f"deep{depth_note}", line=line)
    try:
        value = json.loads(text)
    except RecursionError:  # far deeper than any limit: the parser gave up first
        raise (too_deep if max_depth else UploadError(
            f"line {line}: {what}JSON is nested too deeply", line=line)) from None
    except json.JSONDecodeError as e:
        raise UploadError(f"line {line}: {what}invalid JSON ({e.msg}){hint}",
                          line=line) from None
    if max_depth and _deeper_than(value, max_depth):
        raise too_deep
    return value


ONE_OBJECT = '; each line must be one JSON object, e.g. {"text": "..."}'


def jsonl_objects(text, max_depth=None, depth_note=""):
    """(line number, dict) for every non-blank line. Lines are split on "\\n" only:
    str.splitlines() would also split inside JSON strings at U+2028 and friends, which
    json.dumps(ensure_ascii=False) writes raw."""
    for line, row in enumerate(text.split("\n"), start=1):
        if not row.strip():
            continue
        value = parse_json(row, line, max_depth, depth_note=depth_note, hint=ONE_OBJECT)
        if not isinstance(value, dict):
            raise UploadError(f"line {line}: expected a JSON object{ONE_OBJECT}", line=line)
        yield line, value
