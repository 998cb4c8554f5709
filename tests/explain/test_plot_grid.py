"""The hand-made subplot grid (plots/grid.py) lays cells out as plotly's own
`make_subplots` does: same axis domains and anchors, same titles in the same places."""

import pytest
from plotly.subplots import make_subplots

from albert_demo.plots import grid


@pytest.mark.parametrize("rows, cols, x_gap, y_gap, heights", [
    (1, 1, 0.0, 0.0, None), (2, 3, 0.05, 0.1, None), (3, 4, 0.05, 0.07, None),
    (3, 1, 0.0, 0.2, [50, 170, 74]), (1, 2, 0.1, 0.0, None)])
def test_cells_are_where_make_subplots_puts_them(rows, cols, x_gap, y_gap, heights):
    titles = [f"cell {k}" for k in range(rows * cols)]
    theirs = make_subplots(rows=rows, cols=cols, horizontal_spacing=x_gap,
                           vertical_spacing=y_gap, row_heights=heights,
                           subplot_titles=titles).layout.to_plotly_json()
    ours = grid.layout(grid.cells(rows, cols, x_gap, y_gap, heights), titles=titles)
    assert sorted(k for k in ours if "axis" in k) == sorted(k for k in theirs if "axis" in k)
    for name, axis in ours.items():
        if "axis" in name:
            assert axis["anchor"] == theirs[name]["anchor"], name
            assert axis["domain"] == pytest.approx(list(theirs[name]["domain"]), abs=1e-12)
    for mine, plotlys in zip(ours["annotations"], theirs["annotations"], strict=True):
        assert mine["text"] == plotlys["text"]
        assert (mine["x"], mine["y"]) == pytest.approx((plotlys["x"], plotlys["y"]), abs=1e-12)
        for key in ("xref", "yref", "xanchor", "yanchor", "showarrow", "font"):
            assert mine[key] == plotlys[key], key


def test_a_cells_traces_are_drawn_on_its_axes():
    assert grid.trace_axes(0) == {"xaxis": "x", "yaxis": "y"}
    assert grid.trace_axes(4) == {"xaxis": "x5", "yaxis": "y5"}


def test_a_grid_the_heads_do_not_fill_draws_no_empty_panels():
    """5 heads on a 2 x 3 grid: five maps, each on axes of its own; make_subplots also drew
    a sixth, empty panel, which said nothing."""
    import numpy as np

    from albert_demo.plots import heads_grid
    attention = np.full((1, 5, 4, 4), 0.25)
    figure = heads_grid(attention, ["[CLS]", "▁a", "[MASK]", "[SEP]"], 0).to_plotly_json()
    axes = {name for name in figure["layout"] if "axis" in name}
    assert axes == {"xaxis", "yaxis"} | {f"{xy}axis{k}" for xy in "xy" for k in range(2, 6)}
    assert [(t["xaxis"], t["yaxis"]) for t in figure["data"]] == [
        ("x", "y")] + [(f"x{k}", f"y{k}") for k in range(2, 6)]
    assert [a["text"] for a in figure["layout"]["annotations"]] == [f"head {h}" for h in range(5)]
