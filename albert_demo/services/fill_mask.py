"""The fill-mask task as Hugging Face's clients speak it, over the app's own predictions.

Request and reply have the shape of the Hub's fill-mask task (what
`huggingface_hub.InferenceClient.fill_mask` sends and parses, and what the `transformers`
fill-mask pipeline returns); the numbers are `/predict`'s, from the same engine and batcher,
with the same bounds and messages.

    FillMaskService(predictions).answer("albert_tiny_en_uncased",
                                        {"inputs": "The sky is [MASK].", "parameters": {"top_k": 2}})
    # [{"score": 0.0441, "token": 35, "token_str": "not", "sequence": "The sky is not."}, ...]

One mask gives a flat list, several a list per mask (as the Hub does); a list of texts gives
one such reply per text. With `targets`, only those words are scored (each by its first
piece, as `/score_candidates` and transformers do), best first.
"""

from albert_demo.engine.errors import InputError, whole_number
from albert_demo.engine.predictor import clean_text, normalise_masks
from albert_demo.masks import MASK, fill_masks

# Texts one request may carry: each is bounded like a /predict text and served one after
# another, so a request costs at most this many predictions.
MAX_INPUTS = 16
DEFAULT_TOP_K = 5  # the Hub's and transformers' default
# Each candidate repeats its whole sentence (the Hub's shape), so a small request could ask
# for a reply of tens of MB (16 texts x 20 masks x top_k 50 x 2,000 characters); bounded
# before any work, like every other request.
MAX_REPLY_CHARS = 4_000_000  # one text at every bound (20 masks x 50 x 2,000) fits
PARAMETERS = ("top_k", "targets")
EXAMPLE_BODY = '{"inputs": "The sky is [MASK].", "parameters": {"top_k": 5}}'


def _texts(payload):
    """(texts, whether one text was sent) from the request body."""
    if not isinstance(payload, dict) or "inputs" not in payload:
        raise InputError(f"The body must be a JSON object with \"inputs\", e.g. {EXAMPLE_BODY}.")
    inputs = payload["inputs"]
    if isinstance(inputs, str):
        return [inputs], True
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str)
                                                             for t in inputs):
        raise InputError("\"inputs\" must be a text with [MASK] or a non-empty list of texts.")
    if len(inputs) > MAX_INPUTS:
        raise InputError(f"\"inputs\" has {len(inputs)} texts; at most {MAX_INPUTS} are "
                         "accepted per request. Send them in several requests.")
    return inputs, False


def _parameters(payload):
    """(top_k, targets or None); unknown parameters are refused by name."""
    parameters = payload.get("parameters")
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise InputError("\"parameters\" must be a JSON object, e.g. {\"top_k\": 5}.")
    unknown = sorted(set(parameters) - set(PARAMETERS))
    if unknown:
        raise InputError(f"Unknown parameter(s) {', '.join(map(repr, unknown))}; this model "
                         f"takes {', '.join(PARAMETERS)}.")
    top_k = parameters.get("top_k")
    targets = parameters.get("targets")
    if isinstance(targets, str):
        targets = [targets]
    if targets is not None and (not isinstance(targets, list) or not targets or not all(
            isinstance(t, str) for t in targets)):
        raise InputError("\"targets\" must be a word or a non-empty list of words.")
    return (DEFAULT_TOP_K if top_k is None else top_k), targets


def _check_reply_size(texts, top_k, targets):
    """Refuse a request whose reply would exceed MAX_REPLY_CHARS (estimated from the texts,
    their masks and top_k); a top_k that is not a number is left to the usual message."""
    try:
        per_mask = whole_number(top_k, "top_k")
    except InputError:
        return
    if targets is not None:
        per_mask = min(per_mask, len(targets))
    # every spelling /predict reads as a mask ("[ mask ]" too) counts
    size = sum(normalise_masks(text).count(MASK) * max(per_mask, 1) * (len(text) + 80)
               for text in texts)
    if size > MAX_REPLY_CHARS:
        raise InputError(f"This request would return about {size / 1e6:.0f} MB (every "
                         f"candidate repeats its sentence); at most "
                         f"{MAX_REPLY_CHARS / 1e6:.0f} MB are sent. Ask for fewer masks, a "
                         "smaller top_k or fewer texts per request.")


class FillMaskService:
    """predictions: the app's `PredictionService` (presets, fine-tuned models, batcher)."""

    def __init__(self, predictions):
        self.predictions = predictions

    def answer(self, preset, payload, session_id=None):
        """The Hub's fill-mask reply for `payload` (the parsed JSON body). Raises
        `InputError` (or another `UserError`) for anything the caller can fix."""
        texts, one_text = _texts(payload)
        top_k, targets = _parameters(payload)
        _check_reply_size(texts, top_k, targets)
        replies = [self._one(text, preset, top_k, targets, session_id) for text in texts]
        return replies[0] if one_text else replies

    def _one(self, text, preset, top_k, targets, session_id):
        model = self.predictions.model(preset, session_id)
        if targets is None:
            found = self.predictions.predict(text, preset, top_k, session_id=session_id)
            ranked = [[(p["score"], p["token_id"], p["token"]) for p in mask["predictions"]]
                      for mask in found["masks"]]
        else:
            ranked = self._targets(model, text, preset, top_k, targets, session_id)
        text = clean_text(text, model.limits)  # as /predict saw it: "[mask]" -> "[MASK]"
        masks = [self._elements(text, index, len(ranked), choices)
                 for index, choices in enumerate(ranked)]
        return masks[0] if len(masks) == 1 else masks

    def _targets(self, model, text, preset, top_k, targets, session_id):
        """Per mask, the targets' (score, id, word) best first, at most top_k of them."""
        top_k = whole_number(top_k, "top_k")
        if not 1 <= top_k <= model.limits.max_top_k:
            raise InputError(f"top_k must be between 1 and {model.limits.max_top_k}.")
        scored = self.predictions.score_candidates(text, preset, targets,
                                                   session_id=session_id)
        seen, candidates = set(), []
        for candidate in scored["candidates"]:  # one entry per distinct first piece
            token_id = int(model.tokenizer.token_to_id(candidate["token"]))
            if token_id not in seen:
                seen.add(token_id)
                candidates.append((token_id, candidate))
        if not candidates:
            raise InputError("None of the targets has a piece in this model's vocabulary.")
        ranked = []
        for m in range(len(scored["masks"])):
            choices = [(c["scores"][m], token_id, model.tokenizer.token_text(token_id))
                       for token_id, c in candidates]
            ranked.append(sorted(choices, key=lambda c: -c[0])[:top_k])
        return ranked

    @staticmethod
    def _elements(text, index, n_masks, choices):
        """One mask's list: the text with this mask filled and every other kept."""
        return [{"score": score, "token": token_id, "token_str": word,
                 "sequence": fill_masks(text, [word if m == index else MASK
                                               for m in range(n_masks)])}
                for score, token_id, word in choices]
