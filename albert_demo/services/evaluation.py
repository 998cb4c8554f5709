"""Evaluate presets (the caller's fine-tuned ones included) on the caller's annotations:
top-1 / top-5 against the gold word of every annotated mask."""

from albert_demo.annotations import evaluation_items
from albert_demo.engine.errors import InputError

EVAL_BATCH = 8


class EvaluationService:
    def __init__(self, predictions, annotations):
        self.predictions = predictions
        self.annotations = annotations

    def evaluate(self, session_id, presets, progress=None):
        """Top-1/top-5 of each preset on the person's annotated masks (gold = the
        corrected word, or the shown best guess when judged right)."""
        items = evaluation_items(self.annotations.rows(session_id))
        if not items:
            raise InputError("No annotated masks with a known right word yet: mark "
                             "predictions right, or type the right word, then evaluate.")
        presets = [p for p in (presets or []) if p] or [self.predictions.default_preset]
        scores = []
        for n, preset in enumerate(presets):
            if progress:
                progress(n / len(presets), f"evaluating {preset}")
            model = self.predictions.model(preset, session_id)
            scores.append(evaluate_model(model, items))
        return scores


def evaluate_model(model, items):
    usable = []
    for text, gold in items:
        try:
            model.encode(text)
            usable.append((text, gold.lower()))
        except InputError:  # e.g. longer than this model's window
            pass
    top1 = top5 = 0
    for start in range(0, len(usable), EVAL_BATCH):
        chunk = usable[start:start + EVAL_BATCH]
        # Pad to a fixed batch so evaluation compiles one program per length.
        texts = [t for t, _ in chunk] + [chunk[-1][0]] * (EVAL_BATCH - len(chunk))
        results = model.predict_batch(texts, 5)[:len(chunk)]
        for (_, gold), result in zip(chunk, results):
            guesses = [p["token"].lower() for p in result["masks"][0]["predictions"]]
            top1 += guesses[0] == gold
            top5 += gold in guesses
    n = max(len(usable), 1)
    return {"preset": model.name, "items": len(usable),
            "skipped": len(items) - len(usable), "top1": top1 / n, "top5": top5 / n}
