"""Attention maps: one layer/head as a heatmap, all heads of a layer as a grid, and
where each [MASK] looks as bars.

`attention` is the engine's array (layers, heads, T, T): rows attend to columns.
`head` is an int or "mean" (the average over heads).
"""

import math

import numpy as np
import plotly.graph_objects as go

from albert_demo.plots import grid
from albert_demo.plots.labels import piece_label, short

SPECIAL = ("[CLS]", "[SEP]")


def _labels(tokens):
    # Positions keep repeated tokens apart on an axis; word-inner pieces read "…s".
    return [f"{i}:{short(piece_label(t))}" for i, t in enumerate(tokens)]


def _font_px(n_labels):
    """Tick labels shrink as the sentence grows (plotly skips some when still crowded)."""
    return 12 if n_labels <= 30 else 10 if n_labels <= 60 else 8


def _keep(tokens, hide_special):
    return [i for i, t in enumerate(tokens) if not (hide_special and t in SPECIAL)]


def _map(attention, layer, head):
    layer_maps = np.asarray(attention)[layer]
    return layer_maps.mean(0) if head == "mean" else layer_maps[int(head)]


def _head_name(head):
    return "mean of heads" if head == "mean" else f"head {int(head)}"


def attention_heatmap(attention, tokens, layer=0, head=0, hide_special=False):
    keep = _keep(tokens, hide_special)
    labels = [_labels(tokens)[i] for i in keep]
    weights = _map(attention, layer, head)[np.ix_(keep, keep)]
    font = dict(size=_font_px(len(keep)))
    side = max(380, min(900, 24 * len(keep) + 180))
    # One constructor call: plotly validates each update_* call again (~4 ms a figure).
    return go.Figure(go.Heatmap(
        z=weights, x=labels, y=labels, colorscale="Blues", zmin=0,
        colorbar=dict(thickness=12),
        hovertemplate="from %{y}<br>to %{x}<br>weight %{z:.3f}<extra></extra>"), dict(
        yaxis=dict(autorange="reversed", title="from token", automargin=True, tickfont=font),
        # Upright labels: one cell wide each, they never run into their neighbours at
        # phone width.
        xaxis=dict(title="to token", tickangle=-90, automargin=True, tickfont=font),
        title=f"Layer {layer}, {_head_name(head)}", height=side,
        margin=dict(l=10, r=10, t=50, b=10)))


def heads_grid(attention, tokens, layer=0, hide_special=False):
    """Every head of one layer, small; no tick labels (hover names the tokens), so no
    label runs into a neighbouring map."""
    keep = _keep(tokens, hide_special)
    labels = [_labels(tokens)[i] for i in keep]
    maps = np.asarray(attention)[layer]
    n = maps.shape[0]
    cols = min(4, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    row_px, gap_px = 230, 45
    plot_px = rows * row_px + (rows - 1) * gap_px
    domains = grid.cells(rows, cols, 0.05, gap_px / plot_px if rows > 1 else 0)
    top = float(maps.max())
    traces = [go.Heatmap(
        z=maps[h][np.ix_(keep, keep)], x=labels, y=labels, colorscale="Blues", zmin=0,
        zmax=top, showscale=h == 0, colorbar=dict(thickness=12), **grid.trace_axes(h),
        hovertemplate=f"head {h}<br>from %{{y}}<br>to %{{x}}<br>"
                      "weight %{z:.3f}<extra></extra>") for h in range(n)]
    return go.Figure(traces, dict(
        grid.layout(domains[:n], x_axis=dict(showticklabels=False),
                    y_axis=dict(showticklabels=False, autorange="reversed"),
                    titles=[f"head {h}" for h in range(n)]),
        title=f"Layer {layer}: every head", height=plot_px + 80,
        margin=dict(l=10, r=10, t=70, b=10)))


def mask_attention_bars(attention, tokens, mask_indices, layer=0, head="mean",
                        hide_special=False):
    """For each [MASK], how much it attends to every other token."""
    keep = _keep(tokens, hide_special)
    labels = [_labels(tokens)[i] for i in keep]
    weights = _map(attention, layer, head)
    bars = [go.Bar(x=labels, y=weights[index][keep], name=f"[MASK] {n}",
                   hovertemplate=f"[MASK] {n} (token {index}) to %{{x}}: "
                                 "%{y:.3f}<extra></extra>")
            for n, index in enumerate(mask_indices, 1)]
    legend = len(mask_indices) > 1  # one mask: the title already says whose bars
    # The title in the top margin, the legend (when shown) in its own band under it.
    return go.Figure(bars, dict(
        xaxis=dict(tickangle=-45, title="attended token", automargin=True,
                   tickfont=dict(size=_font_px(len(keep)))),
        yaxis=dict(title="attention weight", rangemode="tozero", automargin=True),
        title=f"Attention from each [MASK]<br><sup>layer {layer}, {_head_name(head)}</sup>",
        barmode="group", height=400, showlegend=legend,
        margin=dict(l=10, r=10, t=110 if legend else 70, b=10),
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0)))
