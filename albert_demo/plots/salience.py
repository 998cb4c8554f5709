"""Token salience as a bar chart and as the sentence shaded token by token.

`result` is the /salience JSON (`albert_demo.engine.salience.explain`). Two colours that
colour-blind readers tell apart (blue: pushed toward the word; orange: pushed away), and
shading light enough that dark text keeps a contrast ratio above 7:1 (WCAG AAA); the sign is
also written in every token's tooltip, so colour is never the only cue.
"""

import html

import numpy as np
import plotly.graph_objects as go

from albert_demo.masks import MASK

POSITIVE = "#1f62a8"   # blue
NEGATIVE = "#c4530a"   # orange
POSITIVE_RGB = (31, 98, 168)
NEGATIVE_RGB = (196, 83, 10)
MAX_SHADE = 0.55       # strongest background mix with white
SPECIAL = ("[CLS]", "[SEP]")

METHOD_NAMES = {"integrated_gradients": "integrated gradients",
                "gradient_x_input": "gradient × input"}


def _describe(result):
    target = result["target"]
    method = METHOD_NAMES.get(result["method"], result["method"])
    if result.get("steps"):
        method += f", {result['steps']} steps"
    return f"why “{target['token']}” at [MASK] {result['mask_ordinal'] + 1} ({method})"


def salience_bars(result, hide_special=True):
    tokens, values = result["tokens"], np.asarray(result["attributions"], "float64")
    keep = [i for i, t in enumerate(tokens) if not (hide_special and t in SPECIAL)]
    labels = [f"{i}:{tokens[i].replace(chr(0x2581), '_')}" for i in keep]
    shown = values[keep]
    fig = go.Figure(go.Bar(
        x=labels, y=shown, marker_color=[POSITIVE if v >= 0 else NEGATIVE for v in shown],
        customdata=["toward" if v >= 0 else "away from" for v in shown],
        hovertemplate="%{x}: %{y:+.4f} (pushes %{customdata} the word)<extra></extra>"))
    fig.update_xaxes(tickangle=-45, title="input token")
    fig.update_yaxes(title="attribution to log p (nats)", zeroline=True, zerolinecolor="#444")
    sub = (f"log p = {result['target']['log_prob']:.3f}, baseline "
           f"{result['baseline_log_prob']:.3f}, attributions sum "
           f"{float(values.sum()):.3f} (completeness error "
           f"{result['completeness_error']:.2%})")
    fig.update_layout(title=dict(text=f"Salience: {_describe(result)}<br><sup>{sub}</sup>"),
                      height=380, margin=dict(l=10, r=10, t=70, b=10), showlegend=False)
    return fig


def _shade(value, scale):
    rgb = POSITIVE_RGB if value >= 0 else NEGATIVE_RGB
    mix = MAX_SHADE * min(abs(value) / scale, 1.0) if scale > 0 else 0.0
    r, g, b = (round(255 + mix * (c - 255)) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def salience_html(result):
    """The sentence with each token's background shaded by its attribution."""
    tokens, values = result["tokens"], [float(v) for v in result["attributions"]]
    scale = max((abs(v) for v in values), default=0.0)
    spans = []
    for i, (token, value) in enumerate(zip(tokens, values)):
        if token in SPECIAL:
            continue
        # A piece starting a word ("▁of") and [MASK] (a control symbol without the "▁")
        # follow a space; other pieces continue the word before them.
        space = " " if spans and (token.startswith("\u2581") or token == MASK) else ""
        text = token.lstrip("\u2581") or token
        target = i == result.get("mask_index")
        sign = "toward" if value >= 0 else "away from"
        label = f"{text}: {value:+.4f}, pushes {sign} “{result['target']['token']}”"
        style = (f"background:{_shade(value, scale)};color:#111;padding:1px 2px;"
                 "border-radius:3px;" + ("outline:2px solid #111;" if target else ""))
        spans.append(f'{space}<span style="{style}" title="{html.escape(label)}" '
                     f'aria-label="{html.escape(label)}">{html.escape(text)}</span>')
    legend = (f'<span style="background:{_shade(1, 1)};color:#111;padding:1px 4px">'
              "blue: pushed toward the word</span> "
              f'<span style="background:{_shade(-1, 1)};color:#111;padding:1px 4px">'
              "orange: pushed away</span> (boxed: the [MASK] explained)")
    return (f'<div class="salience"><p style="font-size:0.9em;margin:0 0 6px">'
            f"{html.escape(_describe(result)[0].upper() + _describe(result)[1:])}</p>"
            f'<p style="font-size:1.15em;line-height:2">{"".join(spans)}</p>'
            f'<p style="font-size:0.85em">{legend}</p></div>')
