"""Campaign tests run on SQLite and a real PostgreSQL (`tests.harness.postgres`), with
a stand-in model whose candidates are fixed per sentence, so answers are predictable."""

from __future__ import annotations

import pytest

from albert_demo.annotations import AnnotationStore
from albert_demo.campaigns import Annotator, CampaignService
from albert_demo.engine.errors import InputError
from tests.harness.postgres import db_url, postgres_url  # noqa: F401

COLOURS = ["blue", "grey", "red", "green", "white", "black", "brown", "pink"]
# Candidates per sentence (and per preset: "other" reverses them).
KNOWN = {"The sky is [MASK].": ["blue", "grey"], "Grass is [MASK].": ["green", "brown"]}


class FakePredictor:
    """What campaigns need of `MaskPredictor`: encode / predict / predict_batch."""

    def __init__(self, name):
        self.name = name

    def encode(self, text):
        self.predict(text)
        return text

    def predict(self, text, top_k=5):
        return self.predict_batch([text], top_k)[0]

    def predict_batch(self, texts, top_k=5):
        out = []
        for text in texts:
            n = text.count("[MASK]")
            if n == 0:
                raise InputError("No [MASK] token found: add at least one.")
            if len(text) > 300:
                raise InputError("The text is too long for this model.")
            words = KNOWN.get(text, COLOURS)
            if self.name == "other":
                words = words[::-1]
            preds = [{"token": w, "token_id": i, "score": 1 / (i + 2)}
                     for i, w in enumerate(words[:top_k])]
            out.append({"masks": [{"index": m, "predictions": preds} for m in range(n)]})
        return out


class FakeCache:
    def get(self, name, progress=None):
        if name not in ("fake", "other"):
            raise InputError(f"Unknown preset {name!r}.")
        return FakePredictor(name)


OWNER = Annotator.user("olivia", owner=True)


def people(n):
    return [Annotator.user(f"a{i:02d}") for i in range(n)]


@pytest.fixture
def open_service(db_url):
    """Factory: a CampaignService on its own engine (a second 'process') over the test DB."""
    opened = []

    def _open(**kw):
        store = AnnotationStore(db_url)
        opened.append(store)
        return CampaignService(store, FakeCache(), **kw)

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def service(open_service):
    return open_service()
