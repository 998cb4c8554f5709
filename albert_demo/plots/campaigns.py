"""Campaign dashboard: progress over time, judgments per annotator, agreement."""

import plotly.graph_objects as go

_LAYOUT = dict(height=320, margin=dict(l=10, r=10, t=50, b=10))


def progress_chart(timeline, needed):
    """`timeline`: [[iso time, cumulative judgments], ...]; `needed`: the campaign's total."""
    fig = go.Figure(go.Scatter(x=[t for t, _ in timeline], y=[n for _, n in timeline],
                               mode="lines", line_shape="hv", name="judgments"))
    if timeline:
        fig.add_hline(y=needed, line_dash="dot", annotation_text=f"{needed} wanted")
    done = timeline[-1][1] if timeline else 0
    fig.update_layout(title=f"Progress: {done} of {needed} judgments", **_LAYOUT)
    fig.update_yaxes(title="judgments", rangemode="tozero")
    return fig


def annotator_chart(per_annotator):
    """`per_annotator`: {name: judgments}."""
    names = sorted(per_annotator, key=lambda n: -per_annotator[n])
    fig = go.Figure(go.Bar(x=names, y=[per_annotator[n] for n in names],
                           text=[per_annotator[n] for n in names], textposition="auto"))
    fig.update_layout(title="Judgments per annotator", **_LAYOUT)
    return fig


def agreement_chart(figures):
    """`figures`: `CampaignService.agreement(...)` -> each annotator's agreement with the
    majority, the campaign's percent agreement and alpha in the title."""
    rows = [r for r in figures["annotators"] if r["agreement_with_majority"] is not None]
    fig = go.Figure(go.Bar(x=[r["annotator"] for r in rows],
                           y=[r["agreement_with_majority"] for r in rows],
                           text=[f"{r['agreement_with_majority']:.0%}" for r in rows],
                           textposition="auto"))
    percent, alpha = figures["percent_agreement"], figures["krippendorff_alpha"]
    title = ("Agreement: " + ("n/a" if percent is None else f"{percent:.0%}") +
             " · Krippendorff's α " + ("n/a" if alpha is None else f"{alpha:.2f}"))
    fig.update_yaxes(range=[0, 1], tickformat=".0%", title="agreement with majority")
    fig.update_layout(title=title, **_LAYOUT)
    return fig
