"""Attention maps: one layer/head as a heatmap, all heads of a layer as a grid, and
where each [MASK] looks as bars.

`attention` is the engine's array (layers, heads, T, T): rows attend to columns.
`head` is an int or "mean" (the average over heads).
"""

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

SPECIAL = ("[CLS]", "[SEP]")


def _labels(tokens):
    # Positions keep repeated tokens apart on an axis; "▁" marks a word start.
    return [f"{i}:{t.replace(chr(0x2581), '_')}" for i, t in enumerate(tokens)]


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
    fig = go.Figure(go.Heatmap(
        z=weights, x=labels, y=labels, colorscale="Blues", zmin=0,
        hovertemplate="from %{y}<br>to %{x}<br>weight %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title="from token")
    fig.update_xaxes(title="to token", tickangle=-45)
    side = max(360, min(900, 28 * len(keep) + 160))
    fig.update_layout(title=f"Layer {layer}, {_head_name(head)}", height=side,
                      margin=dict(l=10, r=10, t=50, b=10))
    return fig


def heads_grid(attention, tokens, layer=0, hide_special=False):
    keep = _keep(tokens, hide_special)
    labels = [_labels(tokens)[i] for i in keep]
    maps = np.asarray(attention)[layer]
    n = maps.shape[0]
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"head {h}" for h in range(n)],
                        horizontal_spacing=0.03, vertical_spacing=0.08)
    for h in range(n):
        fig.add_trace(go.Heatmap(
            z=maps[h][np.ix_(keep, keep)], x=labels, y=labels, colorscale="Blues",
            zmin=0, zmax=float(maps.max()), showscale=h == 0,
            hovertemplate=f"head {h}<br>from %{{y}}<br>to %{{x}}<br>"
                          "weight %{z:.3f}<extra></extra>"),
            row=h // cols + 1, col=h % cols + 1)
    small = len(keep) > 12
    fig.update_xaxes(showticklabels=not small, tickangle=-45)
    fig.update_yaxes(showticklabels=not small, autorange="reversed")
    fig.update_layout(title=f"Layer {layer}: every head", height=260 * rows + 60,
                      margin=dict(l=10, r=10, t=60, b=10))
    return fig


def mask_attention_bars(attention, tokens, mask_indices, layer=0, head="mean",
                        hide_special=False):
    """For each [MASK], how much it attends to every other token."""
    keep = _keep(tokens, hide_special)
    labels = [_labels(tokens)[i] for i in keep]
    weights = _map(attention, layer, head)
    fig = go.Figure()
    for n, index in enumerate(mask_indices, 1):
        fig.add_trace(go.Bar(x=labels, y=weights[index][keep], name=f"[MASK] {n} (token "
                             f"{index})", hovertemplate="to %{x}: %{y:.3f}<extra></extra>"))
    fig.update_xaxes(tickangle=-45, title="attended token")
    fig.update_yaxes(title="attention weight", rangemode="tozero")
    fig.update_layout(title=f"Attention from each [MASK]: layer {layer}, {_head_name(head)}",
                      barmode="group", height=380, margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", y=1.02, yanchor="bottom"))
    return fig
