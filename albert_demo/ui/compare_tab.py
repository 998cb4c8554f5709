"""Compare tab: one text, two or three presets (the person's fine-tuned models too),
predictions per mask in a column per preset with rank changes against the first, and how
much they agree (top-k overlap, Jensen-Shannon divergence)."""

import gradio as gr

from albert_demo.explain.compare import MAX_PRESETS
from albert_demo.plots import compare_columns, compare_table_html, divergence_chart
from albert_demo.presets.registry import EMBEDDED_PRESET
from albert_demo.ui.errors import user_errors
from albert_demo.ui.figures import plot_value
from albert_demo.ui.preset_choices import preset_choices

EXAMPLE = "The doctor told me to take the [MASK] twice a day."
NEEDS_TWO = ("**Compare needs a second model.** This server cannot reach Hugging Face, so "
             "the official presets cannot be downloaded here. To get one: fine-tune a model "
             "in the Fine-tune tab (it joins this list), type the path of a local preset "
             "folder, or run the app where Hugging Face is reachable (it then opens on "
             "the embedded and the official base preset).")


def first_presets(default, finetuned_names=()):
    """What the tab opens on: the embedded and the official default preset when it can be
    had, else the embedded and the person's first fine-tuned model, else the embedded."""
    if default.offers_official and default.wanted != default.fallback:
        return [default.fallback, default.wanted]
    return [default.fallback, *list(finetuned_names)[:1]]


def build_compare_tab(context):
    """Returns (the load-event kwargs that put the caller's fine-tuned models in the list,
    what another tab needs to open this one: its presets box and its run event's kwargs)."""
    explanations = context.explanations
    gr.Markdown(f"Pick 2 to {MAX_PRESETS} presets; the first is the reference for rank "
                "changes (▲ ranked higher, ▼ lower than there).")
    with gr.Row():
        text = gr.Textbox(EXAMPLE, label="Text with [MASK]", elem_id="compare-text", scale=3)
        presets = gr.Dropdown(preset_choices(), value=[EMBEDDED_PRESET], multiselect=True,
                              max_choices=MAX_PRESETS, allow_custom_value=True,
                              label="Presets (pick, or type a name, path or hf://...)",
                              elem_id="compare-presets", scale=2)
        top_k = gr.Slider(1, 20, value=5, step=1, label="Top-k", elem_id="compare-top-k")
    empty = gr.Markdown(NEEDS_TWO, visible=False, elem_id="compare-empty")
    run = gr.Button("Compare", variant="primary", elem_id="compare-run")
    table = gr.HTML(elem_id="compare-table")
    # Hidden until there is something to show: no empty frames before the first run.
    columns = gr.Plot(label="Predictions per preset", elem_id="compare-columns",
                      show_label=False, visible=False)
    agreement = gr.Plot(label="Agreement", elem_id="compare-agreement", show_label=False,
                        visible=False)

    @user_errors
    def _compared(text, names, k, session_id, progress):
        result = explanations.compare(text, names or [], k, session_id=session_id,
                                      progress=progress)
        return (compare_table_html(result),
                gr.Plot(plot_value(compare_columns(result)), visible=True),
                gr.Plot(plot_value(divergence_chart(result)), visible=True))

    def compared(text, names, k, session_id, progress=gr.Progress()):
        if len(set(names or [])) < 2:  # the empty state says how to get a second one
            return "", gr.Plot(visible=False), gr.Plot(visible=False)
        return _compared(text, names, k, session_id, progress)

    # The Fine-tune tab's "Compare with the base model" fills `presets` and runs this.
    to_compare = dict(presets=presets, run=dict(
        fn=compared, inputs=[text, presets, top_k, context.session],
        outputs=[table, columns, agreement]))
    run.click(compared, [text, presets, top_k, context.session], [table, columns, agreement],
              concurrency_limit=2, api_name="compare_view", api_visibility="undocumented")
    text.submit(compared, [text, presets, top_k, context.session],
                [table, columns, agreement], concurrency_limit=2,
                api_name="compare_view_submit", api_visibility="undocumented")
    def choices(session_id):
        mine = context.predictions.finetuned_names(session_id)
        chosen = first_presets(context.predictions.default, mine)
        return (gr.Dropdown(choices=preset_choices(mine), value=chosen),
                gr.Markdown(visible=len(chosen) < 2))

    presets.change(lambda names: gr.Markdown(visible=len(set(names or [])) < 2), [presets],
                   [empty], queue=False, api_name="compare_empty", api_visibility="private")
    return dict(fn=choices, inputs=[context.session], outputs=[presets, empty]), to_compare
