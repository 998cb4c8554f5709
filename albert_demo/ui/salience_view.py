"""Salience beside the attention maps: for one [MASK] of the last prediction and one of
its candidate words, which input tokens pushed the model toward it (blue) or away (orange).

Computed on request (a candidate clicked, or Explain), not after every prediction: it costs
several forward and backward passes."""

import gradio as gr

from albert_demo.plots import salience_bars, salience_html
from albert_demo.ui.errors import user_errors
from albert_demo.ui.figures import plot_value

METHODS = [("Integrated gradients (32 steps)", "integrated_gradients"),
           ("Gradient × input (fast)", "gradient_x_input")]


def mask_choices(found):
    masks = found["result"]["masks"] if found else []
    return [(f"[MASK] {n + 1}", n) for n in range(len(masks))]


def candidate_choices(found, ordinal):
    """(label, token_id) of the mask's ranked predictions: the words a person can click."""
    if not found or ordinal is None or ordinal >= len(found["result"]["masks"]):
        return []
    return [(f"{p['token']} ({p['score']:.1%})", p["token_id"])
            for p in found["result"]["masks"][int(ordinal)]["predictions"]]


def no_plot():
    return gr.Plot(value=None, visible=False)


def build_salience_view(context, after_predict):
    explanations = context.explanations
    with gr.Column(visible=False, elem_id="salience-view") as shown:
        gr.Markdown("### Why this word? Token salience\nAttributions of the word's "
                    "log-probability to every input token, against a baseline in which "
                    "every word is `[MASK]`. Click a candidate to see what pushed *it*.")
        with gr.Row():
            mask = gr.Dropdown([], label="Mask", elem_id="salience-mask", scale=1)
            method = gr.Radio(METHODS, value="integrated_gradients", label="Method",
                              elem_id="salience-method", scale=2)
        candidate = gr.Radio([], label="Candidate word", elem_id="salience-candidate")
        explain = gr.Button("Explain", elem_id="salience-explain")
        sentence = gr.HTML(elem_id="salience-sentence")
        bars = gr.Plot(label="Salience", elem_id="salience-bars", show_label=False,
                       visible=False)  # shown with the first explanation

    def refresh(found):
        if not found:
            return gr.Column(visible=False), gr.Dropdown(), gr.Radio(), "", no_plot()
        candidates = candidate_choices(found, 0)
        return (gr.Column(visible=True), gr.Dropdown(choices=mask_choices(found), value=0),
                gr.Radio(choices=candidates, value=candidates[0][1] if candidates else None),
                "", no_plot())

    def pick_mask(found, ordinal):
        candidates = candidate_choices(found, ordinal)
        return gr.Radio(choices=candidates, value=candidates[0][1] if candidates else None)

    @user_errors
    def run(found, ordinal, token_id, method, session_id, progress=gr.Progress()):
        if not found:
            return "", no_plot()
        result = explanations.salience(found["text"], found["preset"], ordinal or 0,
                                       method=method, session_id=session_id,
                                       token_id=token_id, progress=progress)
        return salience_html(result), gr.Plot(plot_value(salience_bars(result)), visible=True)

    for n, event in enumerate(after_predict):
        event.then(refresh, [context.analysis], [shown, mask, candidate, sentence, bars],
                   api_name=f"salience_refresh_{n}", api_visibility="undocumented")
    mask.input(pick_mask, [context.analysis, mask], [candidate], queue=False,
               api_name="salience_pick_mask", api_visibility="undocumented")
    inputs = [context.analysis, mask, candidate, method, context.session]
    for name, trigger in (("explain", explain.click), ("candidate", candidate.input),
                          ("method", method.input)):
        # One at a time: a salience request is many forward and backward passes.
        trigger(run, inputs, [sentence, bars], concurrency_limit=1,
                concurrency_id="salience", api_name=f"salience_view_{name}",
                api_visibility="undocumented")
