"""The page: tabs built by their own modules, plus the API endpoints for programs.

    context = UIContext(predictions, annotations, evaluation, data_dir, finetune=finetune)
    demo = build_demo(context)
    demo.queue(default_concurrency_limit=4).launch()
"""

import secrets
import uuid
from pathlib import Path

import gradio as gr

from albert_demo.presets.registry import EMBEDDED_PRESET
from albert_demo.ui.annotations_tab import build_annotations_tab
from albert_demo.ui.attention_tab import build_attention_tab
from albert_demo.ui.campaign_api import add_campaign_api
from albert_demo.ui.campaigns_tab import build_campaigns_tab
from albert_demo.ui.compare_tab import build_compare_tab
from albert_demo.ui.explain_api import add_explanation_api
from albert_demo.ui.finetune_tab import build_finetune_tab
from albert_demo.ui.errors import user_errors
from albert_demo.ui.preset_choices import preset_choices
from albert_demo.ui.program_threads import on_program_threads
from albert_demo.ui.predict_tab import build_predict_tab
from albert_demo.ui.public_api import publish_only
from albert_demo.ui.salience_view import build_salience_view

INTRO = """# ALBERT masked-LM demo
Type text with `[MASK]` and see what ALBERT guesses, how sure it is, and where it looks.
Judge the guesses to build a data set; evaluate presets on it.
"""


def browser_secret(data_dir):
    """A secret kept in the data folder, so a browser's session id survives restarts."""
    path = Path(data_dir) / "browser_state_secret"
    try:
        return path.read_text().strip()
    except OSError:
        secret = secrets.token_urlsafe(24)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secret)
            path.chmod(0o600)
        except OSError:
            pass  # read-only disk: sessions last until the restart
        return secret


def new_session(session_id):
    return session_id or uuid.uuid4().hex


def add_api(predictions, annotations):
    """Endpoints for programs (gradio_client), named after what they do. The public ones'
    docstrings are what agents read as MCP tool descriptions: one line per argument under
    "Args:", since Gradio takes each such line as that argument's description."""

    @user_errors
    def fill_mask(text: str, preset: str = EMBEDDED_PRESET, top_k: int = 5,
                  session_id: str = "") -> dict:
        """Guess the missing word at every [MASK] of an English text: the top_k most likely
        words per mask (each mask guessed on its own) with their probabilities, and the
        text filled with the best guesses. Read-only.

        Args:
            text: English text with one or more [MASK], e.g. "The sky is [MASK]." (by default at most 2000 characters and 20 masks)
            preset: model name; albert_tiny_en_uncased (built in, always available) unless you were given another
            top_k: how many words to return per mask, 1 to 50 (by default)
            session_id: leave empty; only your own finetuned/<name> models need it
        Returns:
            {"masks": [{"index": token position, "predictions": [{"token", "token_id", "score": probability 0-1}]}], "filled_text", "mode"}
        """
        return predictions.predict(text, preset, top_k, session_id=session_id)

    @user_errors
    def predict_joint(text: str, preset: str = EMBEDDED_PRESET, top_k: int = 5,
                      session_id: str = "") -> dict:
        """Fill the [MASK]s one at a time, most confident first, re-predicting after each."""
        return predictions.predict_joint(text, preset, top_k, session_id=session_id)

    @user_errors
    def score_candidates(text: str, preset: str = EMBEDDED_PRESET, candidates: str = "",
                         session_id: str = "") -> dict:
        """Probability the model gives each candidate word at every [MASK] of an English
        text, to check or rank words you already have in mind. Read-only.

        Args:
            text: English text with one or more [MASK], e.g. "The sky is [MASK]."
            preset: model name; albert_tiny_en_uncased (built in, always available) unless you were given another
            candidates: comma-separated words, e.g. "blue, grey" (at most 20; a word of several pieces is scored by its first piece)
            session_id: leave empty; only your own finetuned/<name> models need it
        Returns:
            {"masks": [token positions], "candidates": [{"word", "token", "whole_word", "scores": [probability 0-1 per mask]}]}
        """
        return predictions.score_candidates(text, preset, candidates, session_id=session_id)

    @user_errors
    def attention(text: str, preset: str = EMBEDDED_PRESET, layer: int = -1,
                  head: int = -1, session_id: str = "") -> dict:
        """Tokens and attention weights (layer/head index, or -1 for all)."""
        return predictions.attention(text, preset, layer, head, session_id=session_id)

    @user_errors
    def annotate(text: str, preset: str = EMBEDDED_PRESET, mask_ordinal: int = 0,
                 verdict: str = "", correct_token: str = "", tag: str = "",
                 note: str = "", session_id: str = "") -> dict:
        """Save a judgement of one [MASK] (0-based ordinal) with the model's top-10.
        session_id (required): whose row it is; the same id lets you search, edit and
        delete it."""
        return annotations.annotate(session_id, preset, text, mask_ordinal, verdict or None,
                                    correct_token, tag, note)

    def engine_stats() -> dict:
        """Compilations so far, loaded presets, and whether warm-up has finished."""
        return predictions.engine_stats()

    # Light, thread-safe calls bounded by the request limits: served directly, without
    # the queue's per-event overhead, on threads of their own, never the page's.
    # (fill_mask is /predict: the name agents see.)
    gr.api(on_program_threads(fill_mask), api_name="predict", queue=False)
    for fn in (predict_joint, score_candidates, annotate, engine_stats):
        gr.api(on_program_threads(fn), api_name=fn.__name__, queue=False)
    # Attention replies can be megabytes: in the queue, two at a time, so a burst of them
    # waits instead of stalling every other user.
    gr.api(attention, api_name="attention", concurrency_limit=2)


def optional_tab(label, tab_id, service, build, turned_off):
    """A tab built by `build()` when its service exists, or one that says it is turned off
    (the server cannot save data). Returns (the tab, what `build` returned or None)."""
    with gr.Tab(label, id=tab_id) as tab:
        if service is None:
            gr.Markdown(turned_off)
            return tab, None
        return tab, build()


def build_demo(context, title="ALBERT masked-LM demo"):
    """context: a `UIContext` with the services; its page parts are filled in here."""
    predictions = context.predictions
    if context.explanations is None:
        from albert_demo.services import ExplanationService
        context.explanations = ExplanationService(predictions)
    # Gradio's cached copies (uploads, downloads) go 30 min after they were made; checked
    # every 5 min. Long enough to start a fine-tune on an upload, short enough to bound disk.
    with gr.Blocks(title=title, delete_cache=(300, 1800)) as demo:
        context.session = gr.BrowserState(None, storage_key="albert_demo_session",
                                          secret=browser_secret(context.data_dir))
        session = context.session
        # What several tabs share is made here, before any tab, so no tab depends on the
        # order the others are built in: the last prediction, with its attention maps.
        context.analysis = gr.State(None)
        gr.Markdown(INTRO)
        # "wrap": every tab's name stays on screen at phone width, none behind a "•••" menu.
        with gr.Tabs(overflow_behavior="wrap") as context.tabs:
            with gr.Tab("Predict", id="predict"):
                after_predict, preset_dropdown = build_predict_tab(context)
            with gr.Tab("Attention", id="attention"):
                build_attention_tab(context, after_predict)
                build_salience_view(context, after_predict)
            with gr.Tab("Compare", id="compare"):
                compare_choices, to_compare = build_compare_tab(context)
            # Tabs that need the data folder: (label and id, service, builder, when off).
            saving_tabs = {
                "annotations": ("Annotations", context.store,
                                lambda: build_annotations_tab(context),
                                "Annotations are turned off on this server."),
                "campaigns": ("Campaigns", context.campaigns,
                              lambda: build_campaigns_tab(context),
                              "Campaigns are turned off: the server cannot save data."),
                "finetune": ("Fine-tune", context.finetune,
                             lambda: build_finetune_tab(context, to_compare),
                             "Fine-tuning is turned off: the server's data folder is not "
                             "writable."),
            }
            tabs, on_load = {}, {}
            for tab_id, (label, service, build, turned_off) in saving_tabs.items():
                tabs[tab_id], on_load[tab_id] = optional_tab(label, tab_id, service, build,
                                                             turned_off)
            if on_load["annotations"]:
                # Rows saved elsewhere (the Predict tab's form, the API) show on opening.
                tabs["annotations"].select(**on_load["annotations"],
                                           api_name="annotations_on_open",
                                           api_visibility="private")
        add_api(predictions, context.annotations)
        add_explanation_api(context.explanations)
        if context.campaigns is not None:
            add_campaign_api(context.campaigns, Path(context.data_dir) / "campaign_exports")
        load = demo.load(new_session, [session], [session], api_name="session",
                         api_visibility="private")
        # The person's own fine-tuned models join the preset dropdown.
        load.then(lambda s: gr.Dropdown(choices=preset_choices(predictions.finetuned_names(s))),
                  [session], [preset_dropdown], api_name="preset_choices",
                  api_visibility="private")
        load.then(**compare_choices, api_name="compare_choices", api_visibility="private")
        for tab_id in ("annotations", "finetune", "campaigns"):  # each tab's own refresh
            if on_load[tab_id]:
                load.then(**on_load[tab_id], api_name=f"{tab_id}_on_load",
                          api_visibility="private")
    # The API page lists only the read-only, stateless endpoints; MCP serves some of them
    # as tools; the rest stay callable but unlisted (ui/public_api.py).
    publish_only(demo)
    return demo
