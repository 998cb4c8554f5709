"""Top-1 / top-5 accuracy of presets on the annotated set, side by side."""

import plotly.graph_objects as go


def accuracy_chart(rows):
    """`rows`: [{"preset", "top1", "top5", "items"}, ...] -> grouped bars."""
    fig = go.Figure()
    presets = [r["preset"] for r in rows]
    for key, name in (("top1", "top-1"), ("top5", "top-5")):
        values = [r[key] for r in rows]
        fig.add_trace(go.Bar(x=presets, y=values, name=name,
                             text=[f"{v:.0%}" for v in values], textposition="auto"))
    n = rows[0]["items"] if rows else 0
    fig.update_yaxes(range=[0, 1], tickformat=".0%", title="accuracy")
    fig.update_layout(title=f"Accuracy on {n} annotated masks", barmode="group",
                      height=360, margin=dict(l=10, r=10, t=50, b=10))
    return fig
