"""The Campaigns tab's layouts: the campaign picker, the annotator's queue, the create form
and the owner's panel. Each returns its components by name (a SimpleNamespace); the tab
(`campaigns_tab`) wires them."""

import importlib.util
import logging
from types import SimpleNamespace

import gradio as gr
import gradio.oauth

from albert_demo import settings
from albert_demo.campaigns import masking
from albert_demo.campaigns.sources import MAX_MASKS
from albert_demo.presets.registry import EMBEDDED_PRESET, all_presets


log = logging.getLogger("albert_demo.ui")
STRATEGIES = {label: key for key, label in masking.LABELS.items()}  # the dropdown's words
REVIEW_COLUMNS = ["item", "text", "answers", "votes per word", "gold so far", "agreement"]
KEY_HINTS = ("Keys: **1–9** toggle candidates (the last one of each mask: none of these "
             "fit) · **Enter** submits · **S** skips · **U** undoes your last answer "
             "(typing in a box: Enter submits).")


def hf_login_available(space_id) -> bool:
    """Whether "Sign in with Hugging Face" can work: on a Space whose README says
    `hf_oauth: true` (the Hub then sets OAUTH_CLIENT_ID) with gradio[oauth] installed.
    Elsewhere Gradio would sign everyone in as the machine's own HF token, or not start."""
    if not space_id:
        return False
    missing = [m for m in ("authlib", "itsdangerous") if importlib.util.find_spec(m) is None]
    if missing or not gradio.oauth.OAUTH_CLIENT_ID:
        log.warning("No Hugging Face login on this Space (%s): annotators stay anonymous "
                    "unless they log in with --users.",
                    f"install gradio[oauth]: {', '.join(missing)} missing" if missing
                    else "set hf_oauth: true in the README front matter")
        return False
    return True


def picker_layout():
    with gr.Row():
        campaign = gr.Dropdown([], label="Campaign", scale=3, elem_id="campaign-pick",
                               allow_custom_value=True)  # programs pass an id
        reload = gr.Button("↻ Refresh list", scale=0)
    with gr.Row():
        whoami = gr.Markdown(elem_id="campaign-whoami")
        if hf_login_available(settings.current().space_id):
            gr.LoginButton(elem_id="campaign-login", scale=0)
    return SimpleNamespace(campaign=campaign, reload=reload, whoami=whoami)


def queue_layout():
    current = gr.State(None)
    with gr.Column(elem_id="campaign-queue"):
        progress = gr.Markdown(elem_id="campaign-progress")
        with gr.Accordion("Guidelines", open=False):
            guidelines = gr.Markdown()
        sentence = gr.HTML(elem_id="campaign-item")
        start = gr.Button("Start annotating", variant="primary", elem_id="campaign-start")
        rows, groups, typed = [], [], []
        for m in range(MAX_MASKS):
            with gr.Row(visible=m == 0) as row:
                groups.append(gr.CheckboxGroup([], label=f"[MASK {m + 1}]: acceptable words",
                                               elem_classes=["campaign-options"], scale=3))
                typed.append(gr.Textbox(label="None fits? Type the right word", scale=1,
                                        elem_id=f"campaign-typed-{m}"))
            rows.append(row)
        with gr.Row():
            submit = gr.Button("Submit ⏎", variant="primary", elem_id="campaign-submit")
            skip = gr.Button("Skip (S)", elem_id="campaign-skip")
            undo = gr.Button("Undo (U)", elem_id="campaign-undo")
        with gr.Row():
            note = gr.Textbox(label="Flag a problem with this item (note)", scale=3)
            flag = gr.Button("Flag", variant="stop", scale=0, elem_id="campaign-flag")
        gr.Markdown(KEY_HINTS, elem_id="campaign-keys")

    return SimpleNamespace(current=current, progress=progress, guidelines=guidelines,
                           sentence=sentence, start=start, rows=rows, groups=groups,
                           typed=typed, submit=submit, skip=skip, undo=undo, note=note,
                           flag=flag)


def create_layout():
    with gr.Accordion("Create a campaign", open=False, elem_id="campaign-create-form"):
        with gr.Row():
            name = gr.Textbox(label="Name")
            source_kind = gr.Radio(["file", "my annotations"], value="file",
                                   label="Sentences from")
            upload = gr.File(label=".txt (one sentence a line), .csv / .jsonl ('text', "
                             "optional 'gold')", file_types=[".txt", ".csv", ".jsonl"])
        with gr.Row():
            presets = gr.Dropdown(list(all_presets()), value=[EMBEDDED_PRESET], multiselect=True,
                                  label="Preset(s): two are shown side by side, blind",
                                  allow_custom_value=True, max_choices=2)
            top_k = gr.Slider(1, 20, value=5, step=1, label="Candidates per preset")
            overlap = gr.Slider(1, 20, value=3, step=1, label="Judgments per item")
            lease = gr.Slider(1, 120, value=10, step=1, label="Lease (minutes)")
        with gr.Row():
            strategy = gr.Dropdown(list(STRATEGIES), value=masking.LABELS[masking.DEFAULT],
                                   label="Masks for sentences without [MASK]")
            per_sentence = gr.Slider(1, MAX_MASKS, value=1, step=1, label="Masks per sentence")
            mask_words = gr.Textbox(label=f"Words to mask (for '{masking.LABELS['words']}')")
        instructions = gr.Textbox(label="Guidelines for annotators", lines=3)
        create = gr.Button("Create campaign", variant="primary", elem_id="campaign-create")
        created = gr.Markdown()

    return SimpleNamespace(name=name, source_kind=source_kind, upload=upload, presets=presets,
                           top_k=top_k, overlap=overlap, lease=lease, strategy=strategy,
                           per_sentence=per_sentence, mask_words=mask_words,
                           instructions=instructions, create=create, created=created)


def owner_layout():
    with gr.Accordion("Dashboard, review, evaluation, export", open=False,
                      elem_id="campaign-owner-panel"):
        dashboard = gr.Button("Refresh dashboard", elem_id="campaign-dashboard")
        with gr.Row():
            progress_plot = gr.Plot(label="Progress", elem_id="campaign-progress-plot")
            annotator_plot = gr.Plot(label="Per annotator")
            agreement_plot = gr.Plot(label="Agreement")
        figures = gr.Markdown(elem_id="campaign-figures")
        load_review = gr.Button("Items to review")
        review = gr.Dataframe(headers=REVIEW_COLUMNS, interactive=False, wrap=True)
        with gr.Row():
            # Empty until a review row is picked: settling item 0 by default would be wrong.
            review_item = gr.Textbox(label="Item (pick a row in the table above)",
                                     interactive=False, elem_id="campaign-settle-item")
            gold = gr.Textbox(label="Gold word(s), '|' between masks",
                              elem_id="campaign-settle-gold")
            own_word = gr.Checkbox(label="My own word: no annotator picked it", value=False)
            settle = gr.Button("Settle gold")
        settled = gr.Markdown()
        with gr.Row():
            eval_presets = gr.Dropdown(list(all_presets()), value=[EMBEDDED_PRESET],
                                       multiselect=True, allow_custom_value=True,
                                       label="Presets to evaluate on the gold")
            evaluate = gr.Button("Evaluate on the gold", elem_id="campaign-evaluate")
        evaluating = gr.Markdown(elem_id="campaign-evaluating")
        scores = gr.Dataframe(headers=["preset", "masks", "top-1", "top-5"], interactive=False)
        score_chart = gr.Plot(label="Accuracy on the gold")
        with gr.Row():
            export = gr.Button("Export dataset (zip)", elem_id="campaign-export-button")
            exported = gr.File(label="Download", interactive=False)
            gold_button = gr.Button("Gold sentences (.txt, for the Fine-tune tab)")
            gold_file = gr.File(label="Gold sentences", interactive=False)
        with gr.Row():
            repo = gr.Textbox(label="Hub dataset repo (owner/name)")
            token = gr.Textbox(label="Hugging Face write token", type="password")
            private = gr.Checkbox(value=True, label="private")
            push = gr.Button("Push to the Hub")
        pushed = gr.Markdown()

    return SimpleNamespace(
        dashboard=dashboard, progress_plot=progress_plot, annotator_plot=annotator_plot,
        agreement_plot=agreement_plot, figures=figures, load_review=load_review,
        review=review, review_item=review_item, gold=gold, own_word=own_word,
        settle=settle, settled=settled, eval_presets=eval_presets, evaluate=evaluate,
        evaluating=evaluating,
        scores=scores, score_chart=score_chart, export=export, exported=exported,
        gold_button=gold_button, gold_file=gold_file, repo=repo, token=token,
        private=private, push=push, pushed=pushed)
