"""Why a word was predicted (token salience) and how presets differ (compare), for the
page and the API alike; presets resolve as for predictions, the caller's fine-tuned models
included."""

from albert_demo.engine.errors import text_or_none
from albert_demo.explain import compare, parse_presets


class ExplanationService:
    """predictions: the `PredictionService` whose presets (and model cache) are used."""

    def __init__(self, predictions):
        self.predictions = predictions

    def salience(self, text, preset=None, mask_ordinal=0, token="",
                 method="integrated_gradients", session_id=None, token_id=None,
                 progress=None):
        """The /salience JSON: attributions of one mask's word to every input token."""
        token = text_or_none(token, "token") or ""
        method = text_or_none(method, "method") or "integrated_gradients"
        model = self.predictions.model(preset, session_id, progress)
        return {"preset": model.name, **model.salience(
            text, mask_ordinal, token, method.strip(), token_id=token_id)}

    def compare(self, text, presets, top_k=5, session_id=None, progress=None):
        """The /compare JSON: 2-3 presets side by side on one text (first = reference)."""
        names = parse_presets(presets)
        predictors = {name: self.predictions.model(name, session_id, progress)
                      for name in names}
        return compare(text, predictors, top_k)
