"""Evaluate presets (the caller's fine-tuned ones included) on the caller's annotations:
top-1 / top-5 against the gold word of every annotated mask, and why rows were skipped."""

from albert_demo.annotations import evaluation_set, skip_summary
from albert_demo.engine.errors import InputError

EVAL_BATCH = 8


class EvaluationService:
    def __init__(self, predictions, annotations):
        self.predictions = predictions
        self.annotations = annotations

    def preset_names(self, session_id):
        """The caller's fine-tuned models, to offer beside the presets."""
        return self.predictions.finetuned_names(session_id)

    def evaluate(self, session_id, presets, progress=None):
        """Top-1/top-5 of each preset on the person's annotated masks (gold = the
        corrected word, or the shown best guess when judged right).

        -> one dict per preset: preset, items (masks scored), rows (the person's rows),
        skipped (rows not scored), why (a sentence: "2 rows have no right word (marked
        wrong without a correction)"; "" when none were skipped), top1, top5."""
        rows = self.annotations.rows(session_id)
        items, skipped = evaluation_set(rows)
        if not items:
            why = skip_summary(skipped)
            raise InputError("No annotated masks with a known right word yet"
                             + (f" ({why})" if why else "") + ": mark predictions right, "
                             "or type the right word, then evaluate.")
        presets = [p for p in (presets or []) if p] or [self.predictions.default_preset]
        scores = []
        for n, preset in enumerate(presets):
            if progress:
                progress(n / len(presets), f"evaluating {preset}")
            model = self.predictions.model(preset, session_id)
            score = evaluate_model(model, items)
            too_long = len(items) - score["items"]
            reasons = {**skipped, **({"too_long": too_long} if too_long else {})}
            why = skip_summary(skipped)
            if too_long:
                why = "; ".join(filter(None, [why, f"{too_long} too long for {model.name}"]))
            score.update(rows=len(rows), skipped=len(rows) - score["items"], why=why,
                         reasons=reasons)
            scores.append(score)
        return scores


def summary(score):
    """"8 masks from 10 rows: 2 rows have no right word (...)" for one preset's score."""
    head = f"{score['items']} masks from {score['rows']} rows"
    return f"{head}: {score['why']}" if score["why"] else f"{head}, none skipped"


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
