"""Subplot grids laid out by hand, as plotly's `make_subplots` lays them out.

`make_subplots` costs ~20 ms a call (it validates every axis it makes, one by one), and the
prediction chart and the attention grid are drawn after every prediction; building the
same layout as one dict costs ~1 ms. Cells are numbered row by row from the top left;
cell k (0-based) uses axes "x{k+1}"/"y{k+1}" ("x"/"y" for the first).
"""


def cells(rows, cols, x_gap=0.0, y_gap=0.0, row_heights=None):
    """[(x domain, y domain)] of each cell, in paper fractions; `x_gap`/`y_gap` between
    cells as fractions of the whole; `row_heights` relative, top row first."""
    width = (1 - x_gap * (cols - 1)) / cols
    heights = row_heights or [1] * rows
    room = 1 - y_gap * (rows - 1)
    found, y_top = [], 1.0
    for row in range(rows):
        height = room * heights[row] / sum(heights)
        for col in range(cols):
            x_left = col * (width + x_gap)
            found.append(([x_left, x_left + width], [max(0.0, y_top - height), y_top]))
        y_top -= height + y_gap
    return found


def axis_suffix(k):
    return "" if k == 0 else str(k + 1)


def layout(domains, x_axis=None, y_axis=None, titles=None):
    """Layout entries (axes, and each cell's title above it) for the cells `domains`;
    `x_axis`/`y_axis`: settings every cell's axis gets."""
    entries = {}
    for k, (x_domain, y_domain) in enumerate(domains):
        suffix = axis_suffix(k)
        entries[f"xaxis{suffix}"] = dict(x_axis or {}, domain=x_domain, anchor=f"y{suffix}")
        entries[f"yaxis{suffix}"] = dict(y_axis or {}, domain=y_domain, anchor=f"x{suffix}")
    if titles:
        entries["annotations"] = [
            dict(text=text, x=sum(x_domain) / 2, y=y_domain[1], xref="paper", yref="paper",
                 xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=16))
            for text, (x_domain, y_domain) in zip(titles, domains)]
    return entries


def trace_axes(k):
    """The axes a trace in cell k is drawn on."""
    suffix = axis_suffix(k)
    return dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}")
