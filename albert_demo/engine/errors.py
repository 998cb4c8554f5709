"""The user-facing error type, and the checks that turn API arguments of the wrong type
(JSON lets a caller send anything) into its clear messages instead of TypeErrors."""

import math

from albert_demo.errors import UserError


class InputError(UserError, ValueError):
    """The request itself is wrong; the message tells the person what to change."""


def _shown(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def whole_number(value, name):
    """An int from a form or JSON: ints, integral floats and digit strings; no bools."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be a whole number, not {_shown(value)}.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdecimal() and (
            len(value.strip()) <= 18):
        return int(value.strip())
    raise InputError(f"{name} must be a whole number, not {_shown(value)}.")


def finite_number(value, name):
    """A finite float from a number or a numeric string (e.g. "5e-5"); no bools."""
    if not isinstance(value, bool) and isinstance(value, (int, float, str)):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number
    raise InputError(f"{name} must be a number, not {_shown(value)}.")


def text_or_none(value, name):
    """A text argument; None stays None. Anything else is refused by name."""
    if value is None or isinstance(value, str):
        return value
    raise InputError(f"{name} must be text, not {_shown(value)}.")
