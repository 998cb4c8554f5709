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
from albert_demo.ui import lean_sessions, missing_imports
from albert_demo.ui.annotations_tab import build_annotations_tab
from albert_demo.ui.attention_tab import build_attention_tab
from albert_demo.ui.campaigns_tab import add_campaign_api, build_campaigns_tab
from albert_demo.ui.compare_tab import build_compare_tab
from albert_demo.ui.explain_api import add_explanation_api
from albert_demo.ui.finetune_tab import build_finetune_tab
from albert_demo.ui.errors import user_errors
from albert_demo.ui.preset_choices import preset_choices
from albert_demo.ui.predict_tab import build_predict_tab
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
    """Endpoints for programs (gradio_client), named after what they do."""

    @user_errors
    def predict(text: str, preset: str = EMBEDDED_PRESET, top_k: int = 5,
                session_id: str = "") -> dict:
        """Top-k tokens with probabilities for every [MASK] (independently), and the text
        filled with the best guesses. session_id: needed only for your finetuned/ models."""
        return predictions.predict(text, preset, top_k, session_id=session_id)

    @user_errors
    def predict_joint(text: str, preset: str = EMBEDDED_PRESET, top_k: int = 5,
                      session_id: str = "") -> dict:
        """Fill the [MASK]s one at a time, most confident first, re-predicting after each."""
        return predictions.predict_joint(text, preset, top_k, session_id=session_id)

    @user_errors
    def score_candidates(text: str, preset: str = EMBEDDED_PRESET, candidates: str = "",
                         session_id: str = "") -> dict:
        """Probability of each comma-separated candidate word at every [MASK]."""
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

    for fn in (predict, predict_joint, score_candidates, annotate, engine_stats):
        # Light, thread-safe calls bounded by the request limits: served directly, without
        # the queue's per-event overhead.
        gr.api(fn, api_name=fn.__name__, queue=False)
    # Attention replies can be megabytes: in the queue, two at a time, so a burst of them
    # waits instead of stalling every other user.
    gr.api(attention, api_name="attention", concurrency_limit=2)


def build_demo(context, title="ALBERT masked-LM demo"):
    """context: a `UIContext` with the services; its page parts are filled in here."""
    predictions = context.predictions
    lean_sessions.install()  # every plain-HTTP call is a new session: keep sessions cheap
    missing_imports.remember_missing()  # Gradio tries `import matplotlib` on every request
    if context.explanations is None:
        from albert_demo.services import ExplanationService
        context.explanations = ExplanationService(predictions)
    # Gradio's cached copies (uploads, downloads) go 30 min after they were made; checked
    # every 5 min. Long enough to start a fine-tune on an upload, short enough to bound disk.
    with gr.Blocks(title=title, delete_cache=(300, 1800)) as demo:
        context.session = gr.BrowserState(None, storage_key="albert_demo_session",
                                          secret=browser_secret(context.data_dir))
        session = context.session
        gr.Markdown(INTRO)
        # "wrap": every tab's name stays on screen at phone width, none behind a "•••" menu.
        with gr.Tabs(overflow_behavior="wrap") as context.tabs:
            with gr.Tab("Predict", id="predict"):
                after_predict = build_predict_tab(context)
            with gr.Tab("Attention", id="attention"):
                build_attention_tab(context, after_predict)
                build_salience_view(context, after_predict)
            with gr.Tab("Compare", id="compare"):
                compare_choices = build_compare_tab(context)
            with gr.Tab("Annotations", id="annotations") as annotations_tab:
                if context.store is not None:
                    refresh_annotations = build_annotations_tab(context)
                    # Rows saved elsewhere (the Predict tab's form, the API) show on opening.
                    annotations_tab.select(**refresh_annotations, api_name="annotations_on_open",
                                           api_visibility="private")
                else:
                    refresh_annotations = None
                    gr.Markdown("Annotations are turned off on this server.")
            campaigns_on_load = None
            with gr.Tab("Campaigns", id="campaigns"):
                if context.campaigns is not None:
                    campaigns_on_load = build_campaigns_tab(context)
                else:
                    gr.Markdown("Campaigns are turned off: the server cannot save data.")
            refresh_finetune = None
            with gr.Tab("Fine-tune", id="finetune"):
                if context.finetune is not None:
                    refresh_finetune = build_finetune_tab(context)
                else:
                    gr.Markdown("Fine-tuning is turned off: the server's data folder is not "
                                "writable.")
        add_api(predictions, context.annotations)
        add_explanation_api(context.explanations)
        if context.campaigns is not None:
            add_campaign_api(context.campaigns, Path(context.data_dir) / "campaign_exports")
        load = demo.load(new_session, [session], [session], api_name="session",
                         api_visibility="private")
        # The person's own fine-tuned models join the preset dropdown.
        load.then(lambda s: gr.Dropdown(choices=preset_choices(predictions.finetuned_names(s))),
                  [session], [context.presets], api_name="preset_choices",
                  api_visibility="private")
        load.then(**compare_choices, api_name="compare_choices", api_visibility="private")
        if refresh_annotations:
            load.then(**refresh_annotations, api_name="annotations_on_load",
                      api_visibility="private")
        if refresh_finetune:
            load.then(**refresh_finetune, api_name="finetune_on_load",
                      api_visibility="private")
        if campaigns_on_load:
            load.then(**campaigns_on_load, api_name="campaigns_on_load",
                      api_visibility="private")
    return demo
