"""Probe sentences: a few `[MASK]` sentences both models answer, shown side by side.

Without probes from the person, a run makes them from its held-out lines: in each, one
content word the tokenizer keeps whole (the longest) becomes `[MASK]`, so the probes are
about what was uploaded and the right answer is known.

Example:
```python
default_probes(["The court heard the motion on monday."], tokenizer)
# ["The court heard the [MASK] on monday."]
predict_probes(predictor, probes)   # [{"text", "filled_text", "masks": [[top 5], ...]}]
```
"""

import re

from albert_demo.masks import MASK

DEFAULT_COUNT = 3
MAX_WORDS = 30  # a probe is a sentence, not a page
WORD = re.compile(r"[^\W\d_]+")
STOPWORDS = frozenset(
    "a about after all also an and any are as at be been before being but by can could "
    "did do does each for from had has have he her here him his how i if in into is it "
    "its just me more most my no not of off on one only or other our out over she should "
    "so some such than that the their them then there these they this those through to "
    "too under up very was we were what when where which while who whom why will with "
    "would you your".split())


def default_probes(texts, tokenizer, count=DEFAULT_COUNT):
    """Up to `count` probes, one per text in order, each with one content word masked."""
    probes = []
    for text in texts:
        words = text.split()
        text = " ".join(words[:MAX_WORDS])
        if MASK in text:
            continue
        found = [m for m in WORD.finditer(text)
                 if len(m.group()) >= 3 and m.group().lower() not in STOPWORDS]
        whole = [m for m, ids in zip(found, tokenizer([m.group() for m in found]))
                 if len(ids) == 1] if found else []
        if not whole:
            continue
        word = max(whole, key=lambda m: len(m.group()))  # the first of the longest
        probe = text[:word.start()] + MASK + text[word.end():]
        if probe not in probes:
            probes.append(probe)
        if len(probes) == count:
            break
    return probes


def predict_probes(predictor, probes, top_k=5):
    """Top-k per mask for each probe; a bad probe gets its message instead."""
    from albert_demo.engine import InputError
    out = []
    for text in probes:
        try:
            result = predictor.predict(text, top_k=top_k)
            out.append({"text": text, "filled_text": result["filled_text"],
                        "masks": [[p["token"] for p in m["predictions"]]
                                  for m in result["masks"]]})
        except InputError as error:
            out.append({"text": text, "error": str(error)})
    return out
