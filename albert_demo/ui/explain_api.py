"""API endpoints for explanations: /salience and /compare (see docs in README)."""

import gradio as gr

from albert_demo.presets.registry import EMBEDDED_PRESET
from albert_demo.ui.errors import user_errors


def add_explanation_api(explanations):
    @user_errors
    def explain_prediction(text: str, preset: str = EMBEDDED_PRESET, mask_ordinal: int = 0,
                           token: str = "", method: str = "integrated_gradients",
                           session_id: str = "") -> dict:
        """Explain why the model predicts a word at one [MASK]: how much each input token
        pushed that word up (positive) or down (negative). Read-only.

        Args:
            text: English text with one or more [MASK], e.g. "The sky is [MASK] today."
            preset: model name; albert_tiny_en_uncased (built in, always available) unless you were given another
            mask_ordinal: which [MASK] to explain, 0 for the first
            token: the word to explain; empty for the model's best guess (a word of several pieces is scored by its first piece)
            method: integrated_gradients (32 steps, exact to ~0.02%, slower) or gradient_x_input (fast, rougher)
            session_id: leave empty; only your own finetuned/<name> models need it
        Returns:
            {"tokens", "attributions" (one per token, in log-probability units), "target": {"token", "token_id", "log_prob"}, "baseline_log_prob", "completeness_error", "method", "steps"}
        """
        return explanations.salience(text, preset, mask_ordinal, token, method,
                                     session_id=session_id)

    @user_errors
    def compare_presets(text: str, presets: str = EMBEDDED_PRESET, top_k: int = 5,
                        session_id: str = "") -> dict:
        """Compare 2-3 models on the same text: each one's top_k words per [MASK], rank
        changes against the first model, top-k overlap, and KL / Jensen-Shannon
        divergences (nats; only when the models share a vocabulary). Read-only.

        Args:
            text: English text with one or more [MASK], e.g. "The [MASK] barked."
            presets: 2-3 comma-separated model names, the first is the reference, e.g. "albert_tiny_en_uncased, albert_base_en_uncased" (official ones download on first use)
            top_k: how many words per mask and model, 1 to 50 (by default)
            session_id: leave empty; only your own finetuned/<name> models need it
        Returns:
            {"presets", "reference", "top_k", "same_vocabulary", "masks": [{"predictions": {preset: [...]}, "pairs": [{"a", "b", "overlap_at_k", "jaccard", "kl_ab", "kl_ba", "js"}]}]}
        """
        return explanations.compare(text, presets, top_k, session_id=session_id)

    # Salience is many forward and backward passes: one at a time, in the queue.
    gr.api(explain_prediction, api_name="salience", concurrency_limit=1,
           concurrency_id="salience")
    gr.api(compare_presets, api_name="compare", concurrency_limit=2)
