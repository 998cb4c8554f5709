"""Permalinks: what the Predict tab shows, as a readable query string, and back.

    link = encode(View(text="The sky is [MASK].", top_k=3))
    # '?text=The%20sky%20is%20%5BMASK%5D.&preset=albert_tiny_en_uncased&top_k=3&mode=independent'
    view, notice = decode({"text": "The sky is [MASK].", "top_k": "abc"},
                          presets={"albert_tiny_en_uncased"}, limits=Limits())
    # view.top_k == 5 (the default); notice says why top_k=abc was not used

Decoding never raises: a value the app cannot use is replaced by its default and named in
one notice (plain text; the page escapes it). The browser builds the same string in
`predict_tab.COPY_LINK_JS`; `encode` is its reference.
"""

import re
from dataclasses import dataclass, replace
from urllib.parse import quote

from albert_demo.engine.errors import InputError
from albert_demo.engine.predictor import clean_text
from albert_demo.masks import MASK
from albert_demo.presets.registry import EMBEDDED_PRESET

DEFAULT_TEXT = "The capital of France is [MASK]."
MODES = ("independent", "joint")
MEAN = "mean"          # head=mean: the average over heads
MAX_LAYER_OR_HEAD = 1000  # the model decides the real range; this only bounds the number
# The characters JavaScript's encodeURIComponent leaves as they are (besides A-Z a-z 0-9
# and -_.~), so the page and `encode` write the same link.
_SAFE = "!*'()"
_SCRIPT = re.compile(r"<\s*/?\s*script", re.IGNORECASE)


PARAMETERS = ("text", "preset", "top_k", "mode", "layer", "head")


@dataclass(frozen=True)
class View:
    """One screen of the Predict (and Attention) tab. head: an int or "mean"."""

    text: str = DEFAULT_TEXT
    preset: str = EMBEDDED_PRESET
    top_k: int = 5
    mode: str = "independent"
    layer: int = 0
    head: object = 0


def encode(view, base=""):
    """`base` + "?text=…&preset=…&top_k=…&mode=…" (+ layer/head when not 0)."""
    params = [("text", view.text), ("preset", view.preset), ("top_k", view.top_k),
              ("mode", view.mode)]
    params += [(name, value) for name, value in (("layer", view.layer), ("head", view.head))
               if str(value) != "0"]
    return base + "?" + "&".join(f"{name}={quote(str(value), safe=_SAFE)}"
                                 for name, value in params)


def _shown(value, limit=40):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 4] + "…'"


def _text(value, limits):
    try:
        text = clean_text(value, limits)
    except InputError as error:
        raise ValueError(str(error)) from None
    if _SCRIPT.search(value):
        raise ValueError("a link cannot carry <script> tags")
    n_masks = text.count(MASK)
    if not n_masks:
        raise ValueError("it has no [MASK]")
    if n_masks > limits.max_masks:
        raise ValueError(f"it has {n_masks} [MASK]; at most {limits.max_masks} are allowed")
    return value


def _whole(value, low, high):
    text = value.strip()
    if not (text.isdecimal() and len(text) <= 6 and low <= int(text) <= high):
        raise ValueError(f"{_shown(value)} is not a whole number from {low} to {high}")
    return int(text)


def _preset(value, presets):
    if value not in presets:
        raise ValueError(f"{_shown(value)} is not a preset this page offers")
    return value


def _mode(value):
    if value not in MODES:
        raise ValueError(f"{_shown(value)} is not {' or '.join(MODES)}")
    return value


def _head(value):
    return MEAN if value.strip() == MEAN else _whole(value, 0, MAX_LAYER_OR_HEAD)


def names_a_view(params):
    """Whether a query has any of the parameters a permalink sets."""
    return any(name in params for name in PARAMETERS)


def decode(params, presets, limits, default=None):
    """(View, notice or None) from a query's parameters (a mapping of str to str).

    presets: the preset names a link may name; limits: `engine.limits.Limits` (the text
    must be one the app accepts). Parameters other than these are left to others (Gradio
    reads `__theme`, for one)."""
    default = default or View()
    readers = {
        "text": lambda v: _text(v, limits),
        "preset": lambda v: _preset(v, presets),
        "top_k": lambda v: _whole(v, 1, limits.max_top_k),
        "mode": _mode,
        "layer": lambda v: _whole(v, 0, MAX_LAYER_OR_HEAD),
        "head": _head,
    }
    values, problems = {}, []
    for name, read in readers.items():
        if name not in params:
            continue
        value = params[name]
        try:
            if not isinstance(value, str):
                raise ValueError("it is not text")
            values[name] = read(value)
        except ValueError as why:
            problems.append(f"{name} ({why})")
    notice = None
    if problems:
        notice = ("This link had values the app cannot use, so the defaults are shown "
                  "instead for: " + "; ".join(problems) + ".")
    return replace(default, **values), notice
