"""Predict tab: text with [MASK] in, ranked guesses out; the annotation form below them.

The last prediction (with its attention maps) is kept in `context.analysis` (a `gr.State`
the page builds before the tabs), so the Attention tab and the annotation form use it
without running the model again.

What is on screen always belongs to the text in the box: the page opens predicted (from a
permalink's values, or the defaults), an example or a mode change predicts again, editing
greys the old results until the next prediction, and a refused request clears them. The
annotation form is reset by every prediction and tied to it, so a save can never carry
another sentence's verdict, tag or note.
"""

import html
import logging
import uuid

import gradio as gr
from gradio.context import Context

from albert_demo.engine.errors import InputError, whole_number
from albert_demo.engine.limits import Limits
from albert_demo.engine.predictor import normalise_masks
from albert_demo.masks import fill_masks
from albert_demo.plots import predictions_chart
from albert_demo.plots.labels import piece_label
from albert_demo.presets.registry import all_presets
from albert_demo.ui import permalinks
from albert_demo.ui.errors import user_errors
from albert_demo.ui.figures import plot_value
from albert_demo.ui.model_line import download_line, model_line, offers_switch
from albert_demo.ui.preset_choices import official_preset_note, preset_choices

log = logging.getLogger("albert_demo.ui")

# Each example shows one feature: (what it shows, text, fill mode, candidate words). They
# are not picked for the model to get right: the line under the preset says what to expect.
EXAMPLES = [
    ("Joint filling: two [MASK] that must agree",
     "She moved to New [MASK] [MASK] last year.", "joint", ""),
    ("A word the tokenizer cuts into pieces (see the Attention tab's tokens)",
     "The archaeologists found an [MASK] buried beside the temple.", "independent", ""),
    ("Attention to a referent: which noun does [MASK] look at?",
     "The trophy did not fit in the suitcase because [MASK] was too big.", "independent",
     ""),
    ("Candidate scoring: how likely is each word you name?",
     "The capital of France is [MASK].", "independent", "paris, london, rome"),
]
MODES = [("Independent: each [MASK] guessed on its own", "independent"),
         ("Joint: fill the most confident [MASK] first, re-predict after each fill", "joint")]
MODE_NOTE = {
    "independent": "**Independent** guesses: every [MASK] predicted from the text as typed.",
    "joint": "**Joint** fill: most confident [MASK] first, then re-predicted with it filled "
             "(the fill order is in each chart title).",
}
VERDICTS = [("Right", "right"), ("Wrong", "wrong"), ("No verdict", "none")]
KEYS_HINT = "Enter predicts · Shift+Enter starts a new line"
# On a phone the columns stack: the text and its buttons, then the answer, then examples
# and settings (`display: contents` lets their parts be ordered around the results).
PHONE_CSS = """
@media (max-width: 640px) {
  #predict-top, #predict-input { display: contents; }
  #predict-notice { order: 2; }
  #predict-results { order: 3; }
  #predict-examples { order: 4; }
  #predict-settings { order: 5; }
  #annotate { order: 6; }
}
"""
# Put "[MASK]" at the cursor of the text box (runs in the browser).
INSERT_MASK_JS = """(value) => {
  const box = document.querySelector('#input-text textarea');
  const start = box ? box.selectionStart : value.length;
  const end = box ? box.selectionEnd : value.length;
  return value.slice(0, start) + '[MASK]' + value.slice(end);
}"""
# Enter in the text box predicts; Shift+Enter is a newline (Gradio's multi-line box does
# the opposite, on keypress). Listening on window, capture phase, runs before Gradio's
# own handler, which never sees Enter in this box.
ENTER_PREDICTS_JS = """() => {
  if (window.__albertEnterPredicts) return;
  window.__albertEnterPredicts = true;
  const handle = (event) => {
    if (event.key !== 'Enter' || event.isComposing) return;
    if (!event.target.closest || !event.target.closest('#input-text')) return;
    event.stopPropagation();
    if (event.shiftKey) return;  // the browser inserts the newline
    event.preventDefault();
    if (event.type === 'keydown') document.querySelector('#predict-button').click();
  };
  window.addEventListener('keydown', handle, true);
  window.addEventListener('keypress', handle, true);
}"""
# Grey the results while the inputs no longer match them; a prediction restores them.
STALE_JS = """() => {
  const results = document.querySelector('#predict-results');
  if (results) { results.style.opacity = '0.4'; results.dataset.stale = 'true'; }
}"""
FRESH_JS = """(text, shownFor) => {
  const results = document.querySelector('#predict-results');
  if (!results) return;
  const stale = text !== shownFor;  // typed while the prediction ran
  results.style.opacity = stale ? '0.4' : '';
  if (stale) results.dataset.stale = 'true'; else delete results.dataset.stale;
}"""
# The link of what is on screen, built like `permalinks.encode`, copied when the browser
# allows it and shown in a box either way.
COPY_LINK_JS = """async (text, preset, top_k, mode) => {
  const number = (id) => document.querySelector('#' + id + ' input[type=number]');
  const params = [['text', text], ['preset', preset], ['top_k', top_k], ['mode', mode]];
  const layer = number('attention-layer');
  const average = document.querySelector('#attention-average input[type=checkbox]');
  const head = average && average.checked ? 'mean' : (number('attention-head') || {}).value;
  if (layer && String(layer.value) !== '0') params.push(['layer', layer.value]);
  if (head !== undefined && String(head) !== '0') params.push(['head', head]);
  const link = window.location.origin + window.location.pathname + '?' +
    params.map(([name, value]) => name + '=' + encodeURIComponent(String(value))).join('&');
  let note = 'Link copied to the clipboard.';
  try {
    await navigator.clipboard.writeText(link);
  } catch (error) {
    note = 'Copy the link from the box below (this browser did not allow copying).';
  }
  return [link, note];
}"""


def filled_html(text, result):
    """The text with each [MASK] replaced by its best guess, highlighted; all text escaped."""
    marked = [f'<mark title="[MASK] {n}">{html.escape(m["predictions"][0]["token"])}</mark>'
              for n, m in enumerate(result["masks"], 1)]
    return (f'<p class="filled-text">'
            f'{fill_masks(html.escape(normalise_masks(text)), marked)}</p>')


def notice_html(message):
    """One visible message (plain text, escaped) or nothing."""
    if not message:
        return ""
    return (f'<div class="predict-notice" role="alert" style="border-left: 4px solid '
            f'#d97706; padding: 8px 12px; background: rgba(217, 119, 6, 0.08)">'
            f'{html.escape(message, quote=False)}</div>')


def mask_label(n, mask):
    return f"[MASK] {n} (token {mask['index']}): best guess {mask['predictions'][0]['token']!r}"


def percent(p):
    return f"{p * 100:.3g}%"


def candidate_table(scores):
    """(headers, rows) of the candidate scores: one column per [MASK], percentages."""
    headers = ["candidate", "first piece", "whole word"] + [
        f"[MASK] {n}" for n in range(1, len(scores["masks"]) + 1)]
    rows = [[c["word"], piece_label(c["token"]), "yes" if c["whole_word"] else "no"]
            + [percent(s) for s in c["scores"]] for c in scores["candidates"]]
    return headers, rows


def checked_top_k(top_k, limits):
    """The top-k the person typed, or an InputError that says the range."""
    try:
        value = whole_number(top_k, "Top-k")
    except InputError:
        value = None
    if value is None or not 1 <= value <= limits.max_top_k:
        typed = "empty" if top_k is None else f"{top_k!r}"
        raise InputError(f"Top-k must be a whole number from 1 to {limits.max_top_k} "
                         f"(it is {typed}); this server shows at most {limits.max_top_k}.")
    return value


def build_predict_tab(context, page=None):
    """page: the `gr.Blocks` being built (default: the one this is called inside); its
    load event predicts the link's (or the default) sentence. Returns the events after
    which a new prediction is on screen, and the preset dropdown (the page puts the
    person's own fine-tuned models in it). Long on purpose: Gradio wires each handler to
    components made in the same `with` blocks, so layout and thin handlers stay together;
    the work is in the services."""
    predictions, annotations = context.predictions, context.annotations
    default = predictions.default  # the default preset and its background download
    page = page or Context.root_block
    with gr.Row(elem_id="predict-top"):
        with gr.Column(scale=3, elem_id="predict-input"):
            text = gr.Textbox(label="Text (one or more [MASK])", info=KEYS_HINT, lines=3,
                              value=permalinks.DEFAULT_TEXT, elem_id="input-text",
                              max_lines=12)
            with gr.Row():
                insert = gr.Button("Insert [MASK]", size="sm", elem_id="insert-mask")
                predict = gr.Button("Predict", variant="primary", elem_id="predict-button")
                copy = gr.Button("Copy link", size="sm", elem_id="copy-link")
            copied = gr.Markdown(elem_id="copy-note")
            link = gr.Textbox(label="Link to what is on screen", visible=False,
                              elem_id="permalink", interactive=False)
            # An example sets the fill mode and candidates too (rendered in the settings).
            mode = gr.Radio(MODES, value="independent", label="How to fill several [MASK]",
                            elem_id="fill-mode", render=False)
            candidates = gr.Textbox(label="Candidate words (optional, comma-separated)",
                                    placeholder="e.g. paris, london, rome", render=False)
            examples = gr.Examples([list(row[1:]) for row in EXAMPLES],
                                   inputs=[text, mode, candidates],
                                   example_labels=[row[0] for row in EXAMPLES],
                                   label="Examples, one feature each (click one to predict it)",
                                   elem_id="predict-examples")
        with gr.Column(scale=2, elem_id="predict-settings"):
            preset = gr.Dropdown(preset_choices(), value=predictions.default_preset,
                                 label="Preset", allow_custom_value=True,
                                 info=official_preset_note() + " Or type hf://owner/repo.",
                                 elem_id="preset")
            model_note = gr.Markdown(model_line(predictions.default_preset),
                                     elem_id="model-line")
            use_official = gr.Button(f"Use {default.wanted} (the real ALBERT)", size="sm",
                                     visible=False, elem_id="use-official")
            download_note = gr.Markdown(elem_id="default-download")
            download_timer = gr.Timer(1.0, active=False)
            top_k = gr.Number(5, precision=0, label="Top-k per [MASK]",
                              info=f"1 to {Limits.from_settings().max_top_k}", elem_id="top-k")
            mode.render()
            candidates.render()
    notice = gr.HTML(elem_id="predict-notice")
    with gr.Column(elem_id="predict-results"):
        mode_note = gr.Markdown()
        filled = gr.HTML(label="Filled text", elem_id="filled-text")
        chart = gr.Plot(label="Top-k predictions", elem_id="prediction-chart",
                        show_label=False)
        scores = gr.Dataframe(label="Candidate scores (probability of the word's first "
                                    "piece at each [MASK])",
                              visible=False, interactive=False, elem_id="candidate-scores")
        with gr.Accordion("Raw JSON (same as the /predict API)", open=False):
            raw = gr.JSON()

    with gr.Accordion("Annotate these predictions", open=True, elem_id="annotate"):
        with gr.Row():
            mask_pick = gr.Dropdown([], label="[MASK]", type="index", scale=3,
                                    elem_id="annotate-mask")
            verdict = gr.Radio(VERDICTS, label="Best guess is", scale=1,
                               elem_id="annotate-verdict")
            correct = gr.Dropdown([], label="Right word (pick or type)",
                                  allow_custom_value=True, scale=2, elem_id="annotate-word")
        with gr.Row():
            tag = gr.Textbox(label="Tag (optional)", max_length=64, elem_id="annotate-tag")
            note = gr.Textbox(label="Note (optional)", max_length=2000,
                              elem_id="annotate-note")
        # Which prediction the form was last reset for: a save is refused when the
        # prediction has changed since (the reset has not reached this page yet).
        form_for = gr.Textbox(visible=False)
        # The text the results on screen are for (the page greys them when the box differs).
        shown_for = gr.Textbox(visible=False)
        save = gr.Button("Save annotation", elem_id="save-annotation")
        saved = gr.Markdown(elem_id="annotate-saved")

    analysis = context.analysis
    results = [analysis, notice, mode_note, filled, chart, scores, raw, mask_pick, verdict,
               correct, tag, note, form_for, saved, shown_for]

    def cleared(text, message=""):
        """Nothing from an earlier prediction stays on screen; the form is empty."""
        return (None, notice_html(message), "", "", None, gr.Dataframe(visible=False),
                None, gr.Dropdown(choices=[], value=None), None,
                gr.Dropdown(choices=[], value=None), "", "", "", "", text)

    def _pieces(found, session_id):
        tokenizer = predictions.model(found["preset"], session_id).tokenizer
        return {p["token_id"]: tokenizer.id_to_token(p["token_id"])
                for m in found["result"]["masks"] for p in m["predictions"]}

    @user_errors
    def _analyse(text, preset, top_k, mode, candidates, session_id, progress):
        top_k = checked_top_k(top_k, Limits.from_settings())
        found = predictions.analyse(normalise_masks(text or ""), preset, top_k, mode,
                                    candidates, session_id=session_id, progress=progress)
        found["id"] = uuid.uuid4().hex
        return found, _pieces(found, session_id)

    def shown(text, preset, top_k, mode, candidates, session_id, progress=None, message=""):
        try:
            found, pieces = _analyse(text, preset, top_k, mode, candidates, session_id,
                                     progress)
        except gr.Error as error:  # the boundary's message (HTML-escaped): what to change
            return cleared(text, html.unescape(error.message))
        result = found["result"]
        labels = [mask_label(n, m) for n, m in enumerate(result["masks"], 1)]
        if found["candidates"]:
            headers, rows = candidate_table(found["candidates"])
            table = gr.Dataframe(value={"headers": headers, "data": rows}, visible=True)
        else:
            table = gr.Dataframe(visible=False)
        return (found, notice_html(message), MODE_NOTE[result["mode"]],
                filled_html(text, result),
                plot_value(predictions_chart(result, pieces)), table, result,
                gr.Dropdown(choices=labels, value=labels[0]), None,
                gr.Dropdown(choices=_words(result, 0), value=None), "", "", found["id"], "",
                text)

    def run(text, preset, top_k, mode, candidates, session_id, progress=gr.Progress()):
        return shown(text, preset, top_k, mode, candidates, session_id, progress)

    def open_page(text, preset, top_k, mode, session_id, request: gr.Request):
        """The page's first prediction: a permalink's values, else the text the page opened
        with (left as it is: a person may already be typing) and the default preset of the
        moment (the embedded one until the configured default is ready)."""
        params = dict(request.query_params) if request is not None else {}
        if not permalinks.names_a_view(params):  # the default preset of the moment
            preset = predictions.default_preset
            return ((gr.update(), preset, gr.update(), gr.update())
                    + shown(text, preset, top_k, mode, "", session_id))
        known = set(all_presets()) | set(predictions.finetuned_names(session_id))
        default = permalinks.View(preset=predictions.default_preset)
        view, message = permalinks.decode(params, known | {default.preset},
                                          Limits.from_settings(), default)
        out = shown(view.text, view.preset, view.top_k, view.mode, "", session_id,
                    message=message or "")
        if out[0] is not None:
            out[0]["view"] = {"layer": view.layer, "head": view.head}
        return (view.text, view.preset, view.top_k, view.mode) + out

    def _words(result, ordinal):
        return [p["token"] for p in result["masks"][ordinal]["predictions"]]

    def pick_mask(found, ordinal):
        if not found or ordinal is None:
            return gr.Dropdown(choices=[], value=None)
        return gr.Dropdown(choices=_words(found["result"], ordinal), value=None)

    @user_errors
    def _save(session_id, found, form_id, ordinal, verdict, correct, tag, note):
        if not found:
            raise InputError("Predict first, then annotate the predictions.")
        if form_id != found.get("id"):
            raise InputError("The predictions changed while the form was being filled: "
                             "nothing was saved. Check the form and save again.")
        if verdict not in ("right", "wrong", "none"):
            raise InputError("Choose Right, Wrong or No verdict before saving.")
        if ordinal is None:
            raise InputError("Choose which [MASK] the annotation is about.")
        row = annotations.annotate(session_id, found["preset"], found["text"], ordinal,
                                   None if verdict == "none" else verdict, correct, tag,
                                   note, shown=found)
        return f"Saved annotation #{row['id']} ({row['verdict'] or 'no verdict'})."

    def save_annotation(session_id, found, form_id, ordinal, verdict, correct, tag, note):
        try:
            return _save(session_id, found, form_id, ordinal, verdict, correct, tag, note)
        except gr.Error as error:
            return f"**Not saved:** {error.message}"

    preset.focus(lambda s: gr.Dropdown(choices=preset_choices(predictions.finetuned_names(s))),
                 [context.session],
                 [preset], api_name="predict_presets", api_visibility="private")

    def described(name):
        return model_line(name), gr.Button(visible=offers_switch(name, default))

    def downloading(name):
        status = default.status()
        busy = status.state in ("downloading", "compiling")
        return (download_line(status), gr.Button(visible=offers_switch(name, default)),
                gr.Timer(active=busy))

    preset.change(described, [preset], [model_note, use_official], queue=False,
                  api_name="model_line", api_visibility="private")
    download_events = dict(fn=downloading, inputs=[preset],
                           outputs=[download_note, use_official, download_timer],
                           queue=False, api_visibility="private")
    download_timer.tick(**download_events, api_name="default_download_tick")
    inputs = [text, preset, top_k, mode, candidates, context.session]
    events = [
        predict.click(run, inputs, results, api_name="analyse"),
        text.submit(run, inputs, results, api_name="analyse_submit"),
        examples.load_input_event.then(run, inputs, results, api_name="analyse_example"),
        mode.input(run, inputs, results, api_name="analyse_mode"),
        top_k.submit(run, inputs, results, api_name="analyse_top_k"),
        use_official.click(lambda: default.wanted, None, [preset], queue=False,
                           api_name="use_official", api_visibility="private")
        .then(run, inputs, results, api_name="analyse_official"),
    ]
    if page is not None:
        events.append(page.load(open_page, [text, preset, top_k, mode, context.session],
                                [text, preset, top_k, mode] + results,
                                api_name="open_permalink", api_visibility="private"))
        page.load(None, None, None, js=ENTER_PREDICTS_JS)
        page.load(**download_events, api_name="default_download")
    for event in events:
        event.then(None, [text, shown_for], None, js=FRESH_JS)
    for control in (text, preset, top_k, candidates, mode):
        control.input(None, js=STALE_JS)
    examples.load_input_event.then(None, js=STALE_JS)  # grey at once; the run follows
    insert.click(None, [text], [text], js=INSERT_MASK_JS).then(None, js=STALE_JS)
    copy.click(None, [text, preset, top_k, mode], [link, copied], js=COPY_LINK_JS).then(
        lambda: gr.Textbox(visible=True), None, [link], queue=False,
        api_name="show_permalink", api_visibility="private")
    mask_pick.change(pick_mask, [analysis, mask_pick], [correct], api_name="pick_mask",
                     queue=False)
    save.click(save_annotation, [context.session, analysis, form_for, mask_pick, verdict,
                                 correct, tag, note], [saved], api_name="save_annotation")
    return events, preset
