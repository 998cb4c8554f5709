"""Field validation and sanitising for annotation records.

Pure Python, no database or ML imports.  Every value that reaches the
database goes through :func:`validate_record` or :func:`validate_update`.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

from albert_demo.errors import UserError
from albert_demo.masks import MASK

VERDICTS = ("right", "wrong")

MAX_TEXT = 5000
MAX_NOTE = 2000
MAX_TAG = 64
MAX_CORRECT_TOKEN = 100
MAX_PRESET = 128
MAX_SESSION_ID = 128
MAX_PREDICTIONS = 100
MAX_PRED_TOKEN = 100

# Fields a caller may change after creation.
UPDATABLE = ("verdict", "correct_token", "tag", "note")


class AnnotationError(UserError, ValueError):
    """An annotation (or an import file) is invalid.

    ``line`` is the 1-based line number for import errors, else ``None``.
    """

    def __init__(self, message: str, *, line: int | None = None, field: str | None = None):
        super().__init__(message)
        self.line = line
        self.field = field


class AnnotationNotFound(UserError, LookupError):
    """No annotation with that id."""


def _strip_controls(value: str) -> str:
    # Remove C0/C1 control characters and DEL (category Cc) except \n and \t.
    # Format characters (Cf: ZWJ, RTL marks, ...) are kept: emoji and
    # bidirectional text rely on them.
    return "".join(
        ch for ch in value if ch in "\n\t" or unicodedata.category(ch) != "Cc"
    )


def clean_str(
    value: Any,
    field: str,
    max_len: int,
    *,
    required: bool = False,
    strip: bool = False,
) -> str | None:
    """Sanitise one string field. Returns None for missing optional values."""
    if value is None:
        if required:
            raise AnnotationError(f"{field} is required", field=field)
        return None
    if not isinstance(value, str):
        raise AnnotationError(
            f"{field} must be a string, not {type(value).__name__}", field=field
        )
    for ch in value:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise AnnotationError(
                f"{field} contains a lone surrogate (U+{ord(ch):04X}); "
                "the text is not valid Unicode",
                field=field,
            )
    value = _strip_controls(value)
    if strip:
        value = value.strip()
    if value == "":
        if required:
            raise AnnotationError(f"{field} must not be empty", field=field)
        return None
    if len(value) > max_len:
        raise AnnotationError(
            f"{field} is too long: {len(value)} characters (maximum {max_len})",
            field=field,
        )
    return value


# Token positions and ids are stored as 32-bit integers (PostgreSQL `integer`).
MAX_INT = 2**31 - 1


def _int(value: Any, field: str) -> int:
    """A whole number in 0..MAX_INT: ints, integral floats (JSON 4.0) and digit strings
    (CSV "4"); 1.5, "1.5", true and 1e300 are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        # Accept integral strings/floats (CSV import) but nothing lossy.
        try:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError
                value = int(value)
            elif isinstance(value, str) and len(value.strip()) <= 12:
                value = int(value.strip())
            else:
                raise ValueError
        except (ValueError, OverflowError):
            raise AnnotationError(f"{field} must be an integer (a whole number)",
                                  field=field) from None
    if value < 0:
        raise AnnotationError(f"{field} must be >= 0", field=field)
    if value > MAX_INT:
        raise AnnotationError(f"{field} must be at most {MAX_INT}", field=field)
    return value


def validate_predictions(value: Any) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise AnnotationError("predictions must be a list", field="predictions")
    if len(value) > MAX_PREDICTIONS:
        raise AnnotationError(
            f"too many predictions: {len(value)} (maximum {MAX_PREDICTIONS})",
            field="predictions",
        )
    out = []
    for i, p in enumerate(value):
        if not isinstance(p, dict):
            raise AnnotationError(
                f"predictions[{i}] must be an object with token, token_id, score",
                field="predictions",
            )
        extra = set(p) - {"token", "token_id", "score"}
        if extra:
            raise AnnotationError(
                f"predictions[{i}] has unknown keys: {sorted(extra)}",
                field="predictions",
            )
        token = clean_str(p.get("token"), f"predictions[{i}].token", MAX_PRED_TOKEN, required=True)
        token_id = _int(p.get("token_id"), f"predictions[{i}].token_id")
        score = p.get("score")
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise AnnotationError(
                f"predictions[{i}].score must be a number", field="predictions"
            )
        score = float(score)
        if not math.isfinite(score):
            raise AnnotationError(
                f"predictions[{i}].score must be finite", field="predictions"
            )
        out.append({"token": token, "token_id": token_id, "score": score})
    return out


def validate_verdict(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if value not in VERDICTS:
        raise AnnotationError(
            f"verdict must be 'right', 'wrong' or null, not {value!r}", field="verdict"
        )
    return value


def validate_session_id(value: Any) -> str:
    return clean_str(value, "session_id", MAX_SESSION_ID, required=True, strip=True)


def validate_updatable(fields: dict) -> dict:
    unknown = set(fields) - set(UPDATABLE)
    if unknown:
        raise AnnotationError(
            f"cannot update field(s) {sorted(unknown)}; updatable: {list(UPDATABLE)}"
        )
    out = {}
    if "verdict" in fields:
        out["verdict"] = validate_verdict(fields["verdict"])
    if "correct_token" in fields:
        out["correct_token"] = clean_str(
            fields["correct_token"], "correct_token", MAX_CORRECT_TOKEN, strip=True
        )
    if "tag" in fields:
        out["tag"] = clean_str(fields["tag"], "tag", MAX_TAG, strip=True)
    if "note" in fields:
        out["note"] = clean_str(fields["note"], "note", MAX_NOTE)
    return out


def validate_record(
    *,
    session_id: Any,
    preset: Any,
    text: Any,
    mask_index: Any,
    mask_ordinal: Any = 0,
    predictions: Any = None,
    verdict: Any = None,
    correct_token: Any = None,
    tag: Any = None,
    note: Any = None,
) -> dict:
    """Validate and sanitise a full record; returns the column values."""
    text = clean_str(text, "text", MAX_TEXT, required=True)
    mask_ordinal = _int(mask_ordinal, "mask_ordinal")
    n_masks = text.count(MASK)
    if n_masks == 0:
        raise AnnotationError(f"text must contain {MASK}", field="text")
    if mask_ordinal >= n_masks:
        raise AnnotationError(
            f"mask_ordinal {mask_ordinal} out of range: text has {n_masks} {MASK}",
            field="mask_ordinal",
        )
    rec = {
        "session_id": validate_session_id(session_id),
        "preset": clean_str(preset, "preset", MAX_PRESET, required=True, strip=True),
        "text": text,
        "mask_index": _int(mask_index, "mask_index"),
        "mask_ordinal": mask_ordinal,
        "predictions": validate_predictions(predictions),
    }
    rec.update(
        validate_updatable(
            {"verdict": verdict, "correct_token": correct_token, "tag": tag, "note": note}
        )
    )
    return rec
