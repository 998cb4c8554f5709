"""Every class of bad preset and bad input, sent through every endpoint that takes them,
comes back as the person's message: never the generic "Something went wrong"."""

import html
import re
from urllib.parse import quote

import pytest
import requests
from gradio_client import Client
from gradio_client.exceptions import AppError

from albert_demo.presets.registry import EMBEDDED_PRESET

pytestmark = pytest.mark.system  # Every endpoint of a launched app.

TEXT = "The sky is [MASK]."
BAD_PRESETS = {
    "someone's fine-tuned model": ("finetuned/someone", "fine-tuned"),
    "a path outside": ("../../etc", "preset"),
    "a folder with no preset": ("/tmp", "preset"),
    "an unknown name": ("no_such_model", "Unknown preset"),
    "an over-long name": ("x" * 5000, "at most"),
    "a NUL byte": ("bad\x00name", "preset"),
}
BAD_TEXTS = {
    "empty": ("", "empty"),
    "no mask": ("The sky is blue.", r"No \[MASK\]"),
    "too many masks": ("[MASK] " * 30, "at most"),
    "too long": ("[MASK] " + "word " * 600, "characters|tokens"),
}
# endpoint -> (arguments with the preset and the text as placeholders)
ENDPOINTS = {
    "/predict": lambda text, preset: (text, preset, 5, "me"),
    "/predict_joint": lambda text, preset: (text, preset, 5, "me"),
    "/score_candidates": lambda text, preset: (text, preset, "blue", "me"),
    "/attention": lambda text, preset: (text, preset, 0, 0, "me"),
    "/annotate": lambda text, preset: (text, preset, 0, "right", "", "", "", "me"),
}


@pytest.fixture(scope="module")
def client(app_server):
    return Client(app_server.url, verbose=False)


def check_person_message(client, endpoint, args, expected):
    """The call fails with the person's own message (matching `expected`)."""
    with pytest.raises(AppError) as caught:
        client.predict(*args, api_name=endpoint)
    message = str(caught.value)
    assert "Something went wrong" not in message
    assert re.search(expected, message, re.IGNORECASE), message


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize("case", sorted(BAD_PRESETS))
def test_bad_presets_get_their_message(client, endpoint, case):
    preset, expected = BAD_PRESETS[case]
    check_person_message(client, endpoint, ENDPOINTS[endpoint](TEXT, preset), expected)


@pytest.mark.parametrize("endpoint", sorted(set(ENDPOINTS) - {"/attention"}))
@pytest.mark.parametrize("case", sorted(BAD_TEXTS))
def test_bad_texts_get_their_message(client, endpoint, case):
    text, expected = BAD_TEXTS[case]
    check_person_message(client, endpoint, ENDPOINTS[endpoint](text, EMBEDDED_PRESET),
                         expected)


def test_stateful_calls_need_a_session(client):
    check_person_message(client, "/annotate",
                         (TEXT, EMBEDDED_PRESET, 0, "right", "", "", "", ""), "session_id")


def fill_mask_route(app_server, preset, text):
    """POST /models/<preset> (the Hugging Face fill-mask route): (status, JSON)."""
    reply = requests.post(f"{app_server.url}models/{quote(preset, safe='')}",
                          json={"inputs": text}, headers={"X-Session-Id": "me"}, timeout=60)
    return reply.status_code, reply.json()


@pytest.mark.parametrize("case", sorted(BAD_PRESETS) + sorted(BAD_TEXTS))
def test_the_fill_mask_route_refuses_with_predicts_message(app_server, client, case):
    preset, text = EMBEDDED_PRESET, TEXT
    if case in BAD_PRESETS:
        preset, expected = BAD_PRESETS[case]
    else:
        text, expected = BAD_TEXTS[case]
    status, reply = fill_mask_route(app_server, preset, text)
    with pytest.raises(AppError) as caught:
        client.predict(text, preset, 5, "me", api_name="/predict")
    assert (status, list(reply)) == (400, ["error"])
    assert re.search(expected, reply["error"], re.IGNORECASE), reply
    assert reply["error"] == html.unescape(str(caught.value))  # the page escapes its HTML
