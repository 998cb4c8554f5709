"""Top-k predictions per [MASK] as ranked horizontal bar charts, one panel per mask."""

import plotly.graph_objects as go

from albert_demo.plots import grid
from albert_demo.plots.labels import piece_label, short

# Steps for the probability axis: the smallest that gives at most 5 ticks is used, so no
# two ticks print the same rounded percentage.
_STEPS = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25)
BAR_PX, PANEL_PX, GAP_PX, TOP_PX, BOTTOM_PX = 26, 24, 80, 40, 30


def probability_axis(largest, ticks=5):
    """(range end, dtick, tickformat) for an axis from 0 to a bit past `largest`."""
    end = max(float(largest), 1e-6) * 1.3  # room for the value printed past the bar
    step = next((s for s in _STEPS if end / s <= ticks), 0.25)
    decimals = 0 if step >= 0.01 else 1 if step >= 0.001 else 2
    return min(max(end, step), 1.3), step, f".{decimals}%"


def token_label(prediction, pieces=None):
    """A predicted token as shown: "…s" when `pieces` ({token_id: piece}) says it
    continues a word."""
    piece = (pieces or {}).get(prediction["token_id"])
    return piece_label(piece) if piece else prediction["token"]


def predictions_chart(result, pieces=None):
    """`result`: the /predict JSON; `pieces`: {token_id: SentencePiece piece} to mark
    word pieces (without it, tokens are shown as the JSON spells them). Best guess on top
    of each panel; every panel shares one probability axis."""
    masks = result["masks"]
    if not masks:
        return go.Figure()
    titles = []
    for n, mask in enumerate(masks, 1):
        # Token positions are in the JSON; a title names the [MASK] as the text does.
        order = f" (filled #{mask['fill_order']})" if "fill_order" in mask else ""
        titles.append(f"[MASK] {n}{order}")
    panels = [PANEL_PX + BAR_PX * len(m["predictions"]) for m in masks]
    plot_px = sum(panels) + GAP_PX * (len(masks) - 1)
    domains = grid.cells(len(masks), 1, y_gap=GAP_PX / plot_px if len(masks) > 1 else 0,
                         row_heights=panels)
    end, step, tickformat = probability_axis(
        max(p["score"] for m in masks for p in m["predictions"]))
    bars = []
    for k, mask in enumerate(masks):
        preds = mask["predictions"]
        labels = [token_label(p, pieces) for p in preds]
        bars.append(go.Bar(
            x=[p["score"] for p in preds],
            # A rank prefix keeps repeated tokens apart and the order explicit.
            y=[f"{rank}. {short(label, 18)}" for rank, label in enumerate(labels, 1)],
            customdata=labels, orientation="h",
            text=[f"{p['score']:.1%}" for p in preds], textposition="outside",
            cliponaxis=False, showlegend=False, **grid.trace_axes(k),
            hovertemplate="%{customdata}: %{x:.2%}<extra></extra>"))
    return go.Figure(bars, dict(
        grid.layout(domains, x_axis=dict(range=[0, end], dtick=step, tickformat=tickformat),
                    y_axis=dict(autorange="reversed", automargin=True), titles=titles),
        height=plot_px + TOP_PX + BOTTOM_PX, bargap=0.25,
        margin=dict(l=10, r=10, t=TOP_PX, b=BOTTOM_PX)))
