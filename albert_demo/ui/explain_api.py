"""API endpoints for explanations: /salience and /compare (see docs in README)."""

import gradio as gr

from albert_demo.presets.registry import EMBEDDED_PRESET
from albert_demo.ui.errors import user_errors


def add_explanation_api(explanations):
    @user_errors
    def salience(text: str, preset: str = EMBEDDED_PRESET, mask_ordinal: int = 0,
                 token: str = "", method: str = "integrated_gradients",
                 session_id: str = "") -> dict:
        """Attributions of one [MASK]'s word (token: empty = the model's best; a word of
        several pieces is scored by its first piece) to every input token. method:
        integrated_gradients (32 steps, baseline: every word replaced by [MASK]) or
        gradient_x_input."""
        return explanations.salience(text, preset, mask_ordinal, token, method,
                                     session_id=session_id)

    @user_errors
    def compare(text: str, presets: str = EMBEDDED_PRESET, top_k: int = 5,
                session_id: str = "") -> dict:
        """2-3 comma-separated presets side by side: top-k per mask, rank changes against
        the first, top-k overlap, KL and Jensen-Shannon (nats; only for equal
        vocabularies)."""
        return explanations.compare(text, presets, top_k, session_id=session_id)

    # Salience is many forward and backward passes: one at a time, in the queue.
    gr.api(salience, api_name="salience", concurrency_limit=1, concurrency_id="salience")
    gr.api(compare, api_name="compare", concurrency_limit=2)
