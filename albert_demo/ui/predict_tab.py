"""Predict tab: text with [MASK] in, ranked guesses out; the annotation form below them.

The last prediction (with its attention maps) is kept in `context.analysis`, so the
Attention tab and the annotation form use it without running the model again.
"""

import html

import gradio as gr

from albert_demo.masks import fill_masks
from albert_demo.plots import predictions_chart
from albert_demo.presets.registry import EMBEDDED_PRESET
from albert_demo.ui.errors import user_errors
from albert_demo.ui.preset_choices import official_preset_note, preset_choices

EXAMPLES = [
    "The capital of France is [MASK].",
    "She poured a cup of [MASK] and sat down to read.",
    "The [MASK] barked at the [MASK] all night.",
    "Paris is the [MASK] of [MASK], and Berlin is the [MASK] of Germany.",
    "I went to the <b>store</b> to buy [MASK].",
]
MODES = [("Independent: each [MASK] guessed on its own", "independent"),
         ("Joint: fill the most confident [MASK] first, re-predict after each fill", "joint")]
MODE_NOTE = {
    "independent": "**Independent** guesses: every [MASK] predicted from the text as typed.",
    "joint": "**Joint** fill: most confident [MASK] first, then re-predicted with it filled "
             "(the fill order is in each chart title).",
}
# Put "[MASK]" at the cursor of the text box (runs in the browser).
INSERT_MASK_JS = """(value) => {
  const box = document.querySelector('#input-text textarea');
  const start = box ? box.selectionStart : value.length;
  const end = box ? box.selectionEnd : value.length;
  return value.slice(0, start) + '[MASK]' + value.slice(end);
}"""


def filled_html(text, result):
    """The text with each [MASK] replaced by its best guess, highlighted; all text escaped."""
    marked = [f'<mark title="[MASK] {n}">{html.escape(m["predictions"][0]["token"])}</mark>'
              for n, m in enumerate(result["masks"], 1)]
    return f'<p class="filled-text">{fill_masks(html.escape(text), marked)}</p>'


def mask_label(n, mask):
    return f"[MASK] {n} (token {mask['index']}): best guess {mask['predictions'][0]['token']!r}"


def candidate_rows(scores):
    if not scores:
        return []
    return [[c["word"], c["token"], c["whole_word"]] + [round(s, 6) for s in c["scores"]]
            for c in scores["candidates"]]


def build_predict_tab(context):
    predictions, annotations = context.predictions, context.annotations
    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Textbox(label="Text (one or more [MASK])", lines=3,
                              value="The capital of France is [MASK].", elem_id="input-text",
                              max_lines=12)
            with gr.Row():
                insert = gr.Button("Insert [MASK]", size="sm", elem_id="insert-mask")
                predict = gr.Button("Predict", variant="primary", elem_id="predict-button")
            gr.Examples(EXAMPLES, inputs=[text], label="Examples (click to use)")
        with gr.Column(scale=2):
            preset = gr.Dropdown(preset_choices(), value=predictions.default_preset or
                                 EMBEDDED_PRESET, label="Preset", allow_custom_value=True,
                                 info=official_preset_note() + " Or type hf://owner/repo.")
            top_k = gr.Slider(1, 50, value=5, step=1, label="Top-k per [MASK]")
            mode = gr.Radio(MODES, value="independent", label="How to fill several [MASK]")
            candidates = gr.Textbox(label="Candidate words (optional, comma-separated)",
                                    placeholder="e.g. paris, london, rome")
    mode_note = gr.Markdown(MODE_NOTE["independent"])
    filled = gr.HTML(label="Filled text", elem_id="filled-text")
    chart = gr.Plot(label="Top-k predictions", elem_id="prediction-chart")
    scores = gr.Dataframe(headers=["word", "first piece", "whole word", "score at each [MASK]"],
                          label="Candidate scores (probability of the word's first piece)",
                          visible=False, interactive=False)
    with gr.Accordion("Raw JSON (same as the /predict API)", open=False):
        raw = gr.JSON()

    with gr.Accordion("Annotate these predictions", open=True, elem_id="annotate"):
        with gr.Row():
            mask_pick = gr.Dropdown([], label="[MASK]", type="index", scale=3)
            verdict = gr.Radio([("Right", "right"), ("Wrong", "wrong")], label="Best guess is",
                               scale=1)
            correct = gr.Dropdown([], label="Right word (pick or type)",
                                  allow_custom_value=True, scale=2)
        with gr.Row():
            tag = gr.Textbox(label="Tag (optional)", max_length=64)
            note = gr.Textbox(label="Note (optional)", max_length=2000)
        save = gr.Button("Save annotation", elem_id="save-annotation")
        saved = gr.Markdown()

    analysis = gr.State(None)
    context.analysis = analysis
    context.presets = preset

    @user_errors
    def run(text, preset, top_k, mode, candidates, session_id, progress=gr.Progress()):
        found = predictions.analyse(text, preset, top_k, mode, candidates,
                                    session_id=session_id, progress=progress)
        result = found["result"]
        labels = [(mask_label(n, m), n - 1) for n, m in enumerate(result["masks"], 1)]
        rows = candidate_rows(found["candidates"])
        return (found, MODE_NOTE[result["mode"]], filled_html(text, result),
                predictions_chart(result), gr.Dataframe(value=rows, visible=bool(rows)),
                result, gr.Dropdown(choices=[label for label, _ in labels], value=labels[0][0]),
                gr.Dropdown(choices=_words(result, 0), value=None), None)

    def _words(result, ordinal):
        return [p["token"] for p in result["masks"][ordinal]["predictions"]]

    def pick_mask(found, ordinal):
        if not found or ordinal is None:
            return gr.Dropdown(choices=[], value=None)
        return gr.Dropdown(choices=_words(found["result"], ordinal), value=None)

    @user_errors
    def save_annotation(session_id, found, ordinal, verdict, correct, tag, note):
        if not found:
            raise gr.Error("Predict first, then annotate the predictions.")
        if verdict is None and not correct:
            raise gr.Error("Mark the guess right or wrong, or give the right word.")
        row = annotations.annotate(session_id, found["preset"], found["text"], ordinal or 0,
                                verdict, correct, tag, note, shown=found)
        return f"Saved annotation #{row['id']} ({row['verdict'] or 'no verdict'})."

    preset.focus(lambda s: gr.Dropdown(choices=preset_choices(predictions.finetuned_names(s))),
                 [context.session],
                 [preset], api_name="predict_presets", api_visibility="private")
    outputs = [analysis, mode_note, filled, chart, scores, raw, mask_pick, correct, saved]
    event = predict.click(run, [text, preset, top_k, mode, candidates, context.session], outputs,
                          api_name="analyse")
    submit = text.submit(run, [text, preset, top_k, mode, candidates, context.session], outputs,
                         api_name="analyse_submit")
    insert.click(None, [text], [text], js=INSERT_MASK_JS)
    mode.change(lambda m: MODE_NOTE[m], [mode], [mode_note], api_name="mode_note",
                queue=False)
    mask_pick.change(pick_mask, [analysis, mask_pick], [correct], api_name="pick_mask",
                     queue=False)
    save.click(save_annotation, [context.session, analysis, mask_pick, verdict, correct, tag,
                                 note], [saved], api_name="save_annotation")
    return [event, submit]
