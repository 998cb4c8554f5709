"""Permalinks (pure encode/decode), "[mask]" in any capitals, and plots people can read:
no browser, no model."""

from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest

from albert_demo.engine.limits import Limits
from albert_demo.engine.predictor import clean_text
from albert_demo.plots import attention_heatmap, heads_grid, mask_attention_bars
from albert_demo.plots.labels import piece_label
from albert_demo.plots.predictions import predictions_chart, probability_axis
from albert_demo.ui.permalinks import DEFAULT_TEXT, View, decode, encode

PRESETS = {"albert_tiny_en_uncased", "albert_base_en_uncased"}
LIMITS = Limits()


def params_of(link):
    return dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))


@pytest.mark.parametrize("text", [
    "The sky is [MASK].", "a & b = [MASK]? 100% #1 +x", "Zeilen\numbruch [MASK]\tTab",
    "I love 🍕 and [MASK] 🎉", "مرحبا [MASK] بالعالم", "<b>bold</b> [MASK] &amp;",
    "[mask] in lower case", "quotes ' \" ( ) * ! ~ [MASK]"])
def test_a_view_survives_encode_and_decode(text):
    view = View(text=text, preset="albert_base_en_uncased", top_k=17, mode="joint",
                layer=3, head="mean")
    link = encode(view, "http://host/")
    assert link.startswith("http://host/?text=")
    assert " " not in link and "\n" not in link
    decoded, notice = decode(params_of(link), PRESETS, LIMITS)
    assert notice is None
    assert decoded == view


def test_defaults_are_left_out_of_the_link_only_for_layer_and_head():
    assert set(params_of(encode(View()))) == {"text", "preset", "top_k", "mode"}
    assert params_of(encode(View(layer=2, head=1)))["head"] == "1"


def test_encode_matches_javascripts_encodeURIComponent():
    # encodeURIComponent leaves A-Z a-z 0-9 - _ . ! ~ * ' ( ) and escapes the rest.
    link = encode(View(text="a b!~*'()[MASK]/?&=+#%"))
    assert link.split("&")[0] == "?text=a%20b!~*'()%5BMASK%5D%2F%3F%26%3D%2B%23%25"


@pytest.mark.parametrize("params, bad", [
    ({"preset": "no_such_model"}, "preset"),
    ({"preset": "/etc"}, "preset"),
    ({"preset": "hf://evil/model"}, "preset"),
    ({"top_k": "abc"}, "top_k"),
    ({"top_k": "80"}, "top_k"),
    ({"top_k": "0"}, "top_k"),
    ({"top_k": "-3"}, "top_k"),
    ({"top_k": "1e9"}, "top_k"),
    ({"mode": "both"}, "mode"),
    ({"layer": "x"}, "layer"),
    ({"head": "-1"}, "head"),
    ({"text": "x" * 10_240 + "[MASK]"}, "text"),
    ({"text": "Bell \x07 [MASK]"}, "text"),
    ({"text": "nul \x00 [MASK]"}, "text"),
    ({"text": "<script>alert(1)</script> [MASK]"}, "text"),
    ({"text": "<SCRIPT src=//evil></script> [MASK]"}, "text"),
    ({"text": "no placeholder here"}, "text"),
    ({"text": ""}, "text"),
    ({"text": "[MASK] " * 21}, "text"),
])
def test_bad_or_hostile_values_give_the_default_and_one_notice(params, bad):
    view, notice = decode(params, PRESETS, LIMITS)
    assert view == View()
    assert notice.count(f"{bad} (") == 1 and notice.startswith("This link had values")
    assert len(notice) < 400  # a 10 kB value is not echoed back whole


def test_only_the_bad_values_fall_back():
    view, notice = decode({"text": "The [MASK] sat.", "top_k": "abc", "mode": "joint",
                           "__theme": "dark"}, PRESETS, LIMITS)
    assert (view.text, view.top_k, view.mode) == ("The [MASK] sat.", 5, "joint")
    assert "top_k" in notice and "text" not in notice and "__theme" not in notice


def test_no_parameters_is_the_default_view_without_notice():
    assert decode({}, PRESETS, LIMITS) == (View(), None)
    assert View().text == DEFAULT_TEXT


def test_mask_in_any_capitals_is_accepted():
    assert clean_text("The [mask] and the [Mask] and [ MASK ].", LIMITS) == (
        "The [MASK] and the [MASK] and [MASK].")


def test_word_pieces_are_marked():
    assert piece_label("\u2581cat") == "cat"
    assert piece_label("s") == "…s"
    assert piece_label(".") == "."
    assert piece_label("[MASK]") == "[MASK]"
    result = {"masks": [{"index": 3, "predictions": [
        {"token": "dog", "token_id": 10, "score": 0.5},
        {"token": "s", "token_id": 11, "score": 0.2}]}]}
    fig = predictions_chart(result, {10: "\u2581dog", 11: "s"})
    assert list(fig.data[0].y) == ["1. dog", "2. …s"]


@pytest.mark.parametrize("largest", [0.004, 0.013, 0.02, 0.07, 0.2, 0.55, 0.99, 1e-5])
def test_probability_ticks_never_repeat(largest):
    end, step, fmt = probability_axis(largest)
    decimals = int(fmt[1:-1])
    ticks = [f"{t * 100:.{decimals}f}%" for t in np.arange(0, end + 1e-12, step)]
    assert len(ticks) == len(set(ticks)) and 2 <= len(ticks) <= 6
    assert end > largest


def test_several_masks_leave_room_between_panels():
    mask = {"index": 1, "predictions": [{"token": f"w{i}", "token_id": i, "score": 0.1}
                                        for i in range(10)]}
    fig = predictions_chart({"masks": [mask, mask, mask]})
    domains = [fig.layout[f"yaxis{n}"].domain for n in ("", "2", "3")]
    plot_px = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    for upper, lower in zip(domains, domains[1:]):
        assert (upper[0] - lower[1]) * plot_px >= 70  # title + ticks of the panel above


def test_attention_plots_fit_labels_and_legend():
    tokens = ["[CLS]"] + [f"\u2581w{i}" for i in range(40)] + ["s", "[MASK]", "[SEP]"]
    attention = np.random.default_rng(0).random((6, 6, len(tokens), len(tokens)))
    heat = attention_heatmap(attention, tokens, 0, 1)
    assert "41:…s" in list(heat.data[0].x)
    grid = heads_grid(attention, tokens, 0)
    assert not grid.layout.xaxis.showticklabels  # no labels running into neighbours
    assert len({a.text for a in grid.layout.annotations}) == 6
    one = mask_attention_bars(attention, tokens, [42])
    two = mask_attention_bars(attention, tokens, [1, 42])
    assert not one.layout.showlegend and two.layout.showlegend
    assert two.layout.margin.t >= 100  # the legend has its own band under the title
