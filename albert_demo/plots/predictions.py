"""Top-k predictions per [MASK] as ranked horizontal bar charts, one panel per mask."""

import plotly.graph_objects as go
from plotly.subplots import make_subplots


def predictions_chart(result):
    """`result`: the /predict JSON. Best guess on top of each panel."""
    masks = result["masks"]
    if not masks:
        return go.Figure()
    titles = []
    for n, mask in enumerate(masks, 1):
        order = f", filled #{mask['fill_order']}" if "fill_order" in mask else ""
        titles.append(f"[MASK] {n} (token {mask['index']}{order})")
    fig = make_subplots(rows=len(masks), cols=1, subplot_titles=titles,
                        vertical_spacing=min(0.3 / len(masks), 0.08))
    for row, mask in enumerate(masks, 1):
        preds = mask["predictions"]
        fig.add_trace(go.Bar(
            x=[p["score"] for p in preds],
            # A rank prefix keeps repeated tokens apart and the order explicit.
            y=[f"{rank}. {p['token']}" for rank, p in enumerate(preds, 1)],
            orientation="h", text=[f"{p['score']:.1%}" for p in preds],
            textposition="auto", showlegend=False,
            hovertemplate="%{y}: %{x:.2%}<extra></extra>"), row=row, col=1)
        fig.update_yaxes(autorange="reversed", row=row, col=1)
        fig.update_xaxes(tickformat=".0%", rangemode="tozero", row=row, col=1)
    height = sum(60 + 22 * len(m["predictions"]) for m in masks)
    fig.update_layout(height=max(260, height), margin=dict(l=10, r=10, t=40, b=20),
                      bargap=0.25)
    return fig
