"""The salience and comparison figures build from real results, keep text readable on
their shading, and never rely on colour alone."""

import re

import numpy as np

from albert_demo.explain import compare
from albert_demo.plots import (compare_columns, compare_table_html, divergence_chart,
                               salience_bars, salience_html)
from albert_demo.plots.salience import _shade

TEXT = "the quick brown [MASK] jumped over the <lazy> dog ."


def _luminance(hex_colour):
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_shading_keeps_dark_text_readable():
    text = _luminance("#111111")
    for value in np.linspace(-1, 1, 41):
        ratio = (_luminance(_shade(value, 1.0)) + 0.05) / (text + 0.05)
        assert ratio >= 7.0, (value, ratio)  # WCAG AAA for normal text


def test_salience_figures(tiny_predictor):
    result = tiny_predictor.salience(TEXT, steps=4)
    fig = salience_bars(result)
    (bar,) = fig.data
    assert len(bar.x) == len(result["tokens"]) - 2  # [CLS] and [SEP] hidden
    assert "completeness error" in fig.layout.title.text
    page = salience_html(result)
    assert "&lt;" in page and "<lazy>" not in page  # tokens are escaped
    titles = re.findall(r'title="([^"]*)"', page)
    assert len(titles) == len(result["tokens"]) - 2
    assert all("pushes toward" in t or "pushes away from" in t for t in titles)
    assert "outline:2px" in page  # the explained mask is boxed


def test_compare_figures(tiny_predictor, tiny_predictor_b):
    result = compare("the [MASK] is [MASK] .", {"a": tiny_predictor, "b": tiny_predictor_b},
                     top_k=3)
    assert len(compare_columns(result).data) == 4  # 2 masks x 2 presets
    assert len(divergence_chart(result).data) == 2  # overlap and JS for the one pair
    table = compare_table_html(result)
    assert table.count("<table") == 2 and "JS" in table
