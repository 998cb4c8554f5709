"""What a request about a campaign must look like: numbers in range, ids, text without
control characters, one well-formed answer per [MASK]. Each check returns the clean value
or raises a `CampaignError` that says what to change (nothing is written before)."""

from __future__ import annotations

import re

from albert_demo.campaigns import agreement as agree
from albert_demo.campaigns.errors import CampaignError, NotFound
from albert_demo.engine.errors import InputError, whole_number

MAX_WORD = 100
MAX_NOTE = 2000
MAX_GUIDELINES = 10000
ANSWER_SHAPE = '{"accepted": [words], "typed": word or null, "none_fit": true or false}'


def bounded(value, name, low, high) -> int:
    value = whole_number(value, name)
    if not low <= value <= high:
        raise CampaignError(f"{name} must be between {low} and {high}, not {value}.")
    return value


def row_id(value, what) -> int:
    """A campaign or item id; a malformed one is "not found", like a missing one."""
    try:
        value = whole_number(value, f"{what} id")
    except InputError as e:
        raise NotFound(str(e)) from None
    if not 1 <= value < 2**63:
        raise NotFound(f"No {what} #{value}.")
    return value


def text(value, name, limit, required=False):
    """Stripped text of at most `limit` characters, or None when blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise CampaignError(f"{name} is required.")
        return None
    if not isinstance(value, str):
        raise CampaignError(f"{name} must be text, not {type(value).__name__}.")
    if re.search(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]", value):
        raise CampaignError(f"{name} contains control or invalid characters; remove them.")
    value = value.strip()
    if len(value) > limit:
        raise CampaignError(f"{name} is {len(value)} characters; at most {limit} are accepted.")
    return value


def answers(options, given) -> list[dict]:
    """One answer per mask, each naming candidates from `options`, a typed word, or an
    explicit "none of these fit"; an empty answer is refused."""
    if isinstance(given, dict) and "masks" in given:
        given = given["masks"]
    if not isinstance(given, list) or len(given) != len(options):
        raise CampaignError(f"Give one answer per [MASK]: this item has {len(options)}, "
                            f"each {ANSWER_SHAPE}.")
    return [_answer(m, options[m], answer) for m, answer in enumerate(given)]


def _answer(m, options, answer) -> dict:
    if isinstance(answer, list):
        answer = {"accepted": answer}
    if not isinstance(answer, dict) or set(answer) - {"accepted", "typed", "none_fit"}:
        raise CampaignError(f"Answer {m + 1} must be {ANSWER_SHAPE}.")
    accepted = answer.get("accepted") or []
    if not isinstance(accepted, list) or not all(isinstance(w, str) for w in accepted):
        raise CampaignError(f"Answer {m + 1}: 'accepted' must be a list of words.")
    accepted = list(dict.fromkeys(agree.norm(w) for w in accepted if agree.norm(w)))
    unknown = [w for w in accepted if w not in options]
    if unknown:
        raise CampaignError(f"Answer {m + 1}: {unknown[0]!r} was not a candidate for "
                            f"this mask; type it as the right word instead.")
    typed = text(answer.get("typed"), f"Answer {m + 1}'s typed word", MAX_WORD)
    if typed and "\n" in typed:
        raise CampaignError(f"Answer {m + 1}: the typed word is one line.")
    if typed and "[mask]" in typed.lower():
        raise CampaignError(f"Answer {m + 1}: type the word that fits instead of [MASK].")
    none_fit = answer.get("none_fit") in (True, "true", 1)
    if none_fit and (accepted or typed):
        raise CampaignError(f"Answer {m + 1}: 'none of these fit' and a word at once; "
                            "choose one.")
    if not (accepted or typed or none_fit):
        raise CampaignError(f"Answer {m + 1} is empty: tick the words that fit, type "
                            "the right one, or choose 'none of these fit'.")
    if none_fit:
        return {"accepted": [], "typed": None, "none_fit": True}
    return {"accepted": accepted, "typed": typed}
