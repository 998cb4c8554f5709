"""Presets compared: top-k per mask in one column per preset (rank changes against the
first preset marked), and top-k overlap / Jensen-Shannon divergence per pair.

`result` is the /compare JSON (`albert_demo.explain.compare`)."""

import html

import plotly.graph_objects as go
from plotly.subplots import make_subplots

UP = "#1f62a8"      # ranked higher than in the reference: blue
DOWN = "#c4530a"    # lower: orange
SAME = "#8a8a8a"
PAIRS = ("#4c4c9d", "#2a9d8f", "#b5838d")  # one colour per pair of presets, in both panels


def short(name, width=36):
    """A preset name for a title or legend: long paths keep their end."""
    return name if len(name) <= width else "…" + name[-(width - 1):]


def _change(row):
    change = row.get("rank_change")
    if "rank_change" not in row:
        return "", SAME
    if change is None:
        return " (not in reference)", DOWN
    if change > 0:
        return f" ▲{change}", UP
    if change < 0:
        return f" ▼{-change}", DOWN
    return " =", SAME


def compare_columns(result):
    presets, masks = result["presets"], result["masks"]
    titles = [f"[MASK] {m['ordinal'] + 1}: {short(name)}" for m in masks for name in presets]
    fig = make_subplots(rows=len(masks), cols=len(presets), subplot_titles=titles,
                        horizontal_spacing=0.12,
                        vertical_spacing=min(0.3 / max(len(masks), 1), 0.1))
    for r, mask in enumerate(masks, 1):
        for c, name in enumerate(presets, 1):
            rows = mask["predictions"][name]
            marks = [_change(row) for row in rows]
            fig.add_trace(go.Bar(
                x=[row["score"] for row in rows],
                y=[f"{row['rank']}. {row['token']}" for row in rows], orientation="h",
                marker_color=[colour for _, colour in marks],
                text=[f"{row['score']:.1%}{mark}" for row, (mark, _) in zip(rows, marks)],
                textposition="auto", showlegend=False,
                hovertemplate="%{y}: %{x:.2%}<extra>" + html.escape(name) + "</extra>"),
                row=r, col=c)
            fig.update_yaxes(autorange="reversed", row=r, col=c)
            fig.update_xaxes(tickformat=".0%", rangemode="tozero", row=r, col=c)
    k = result["top_k"]
    fig.update_layout(
        title=f"Top-{k} per preset (▲/▼: rank change against {short(result['reference'])})",
        height=max(300, len(masks) * (70 + 24 * k)), margin=dict(l=10, r=10, t=70, b=20))
    return fig


def divergence_chart(result):
    """Per mask and pair of presets: overlap@k (0..1) and Jensen-Shannon (nats)."""
    masks = result["masks"]
    labels = [f"[MASK] {m['ordinal'] + 1}" for m in masks]
    with_js = result["same_vocabulary"]
    fig = make_subplots(rows=1, cols=2 if with_js else 1, subplot_titles=(
        [f"top-{result['top_k']} overlap", "Jensen-Shannon divergence (nats, max ln 2)"]
        if with_js else [f"top-{result['top_k']} overlap"]))
    for n, pair in enumerate(masks[0]["pairs"]):
        name = f"{short(pair['a'])} vs {short(pair['b'])}"
        colour = PAIRS[n % len(PAIRS)]
        fig.add_trace(go.Bar(x=labels, y=[m["pairs"][n]["overlap_at_k"] for m in masks],
                             name=name, legendgroup=name, offsetgroup=n,
                             marker_color=colour), row=1, col=1)
        if with_js:
            fig.add_trace(go.Bar(x=labels, y=[m["pairs"][n]["js"] for m in masks],
                                 name=name, legendgroup=name, offsetgroup=n,
                                 marker_color=colour, showlegend=False), row=1, col=2)
    fig.update_yaxes(range=[0, 1], tickformat=".0%", row=1, col=1)
    title = "How much the presets agree"
    if not with_js:
        title += " (different vocabularies: no divergence)"
    fig.update_layout(title=title, barmode="group", height=360,
                      margin=dict(l=10, r=10, t=70, b=10),
                      legend=dict(orientation="h", y=-0.15))
    return fig


def compare_table_html(result):
    """One table per mask, a column per preset; rank changes coloured and written out."""
    parts = []
    for mask in result["masks"]:
        head = "".join(f"<th scope='col' title='{html.escape(n)}'>{html.escape(short(n))}"
                       "</th>" for n in result["presets"])
        body = []
        for rank in range(result["top_k"]):
            cells = []
            for name in result["presets"]:
                rows = mask["predictions"][name]
                if rank >= len(rows):
                    cells.append("<td></td>")
                    continue
                row = rows[rank]
                mark, colour = _change(row)
                style = f"color:{colour};font-weight:600" if mark.strip(" =") else ""
                cells.append(f"<td>{html.escape(row['token'])} {row['score']:.1%}"
                             f"<span style='{style}'>{html.escape(mark)}</span></td>")
            body.append(f"<tr><th scope='row'>{rank + 1}</th>{''.join(cells)}</tr>")
        pairs = "; ".join(
            f"{html.escape(short(p['a']))} vs {html.escape(short(p['b']))}: overlap "
            f"{p['overlap_at_k']:.0%}"
            + (f", KL {p['kl_ab']:.3f}, JS {p['js']:.3f} nats" if p["js"] is not None
               else "") for p in mask["pairs"])
        parts.append(f"<table class='compare'><caption>[MASK] {mask['ordinal'] + 1} — "
                     f"{pairs}</caption><thead><tr><th>rank</th>{head}</tr></thead>"
                     f"<tbody>{''.join(body)}</tbody></table>")
    note = f"<p>{html.escape(result['note'])}</p>" if result.get("note") else ""
    return note + "".join(parts)
