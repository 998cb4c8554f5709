"""Programs and agents against a launched `python app.py --mcp`: Hugging Face's
`InferenceClient.fill_mask` and a plain `requests` call on `POST /models/<preset>`, the real
`mcp` client on Gradio's MCP server, and what the public API listing shows."""

import asyncio
import json

import pytest
import requests
from gradio_client import Client
from gradio_client.exceptions import AppError
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError

from albert_demo.presets.registry import EMBEDDED_PRESET
from tests.harness.app import LaunchedApp, wait_for_warm_up

# The read-only tools, by the names Gradio gives them (the functions' names).
TOOLS = {"fill_mask", "score_candidates", "compare_presets", "explain_prediction"}
# Endpoints that read or change someone's data, and page events: never a tool.
STATEFUL = {"annotate", "annotation_update", "annotations_export", "annotations_import",
            "save_annotation", "campaign_create", "campaign_submit", "campaign_export",
            "finetune_start", "finetune_status", "run_delete", "run_import", "run_export"}
# The public listing: exactly the read-only, stateless endpoints.
LISTED = {"/predict", "/predict_joint", "/score_candidates", "/attention", "/compare",
          "/salience", "/engine_stats"}
# Unlisted, still callable: endpoints that read or change someone's data, and page events.
UNLISTED = {"/annotate", "/annotation_update", "/annotation_delete", "/annotations_import",
            "/annotations_export", "/evaluate", "/campaign_create", "/campaign_next",
            "/campaign_submit", "/campaign_export_download", "/finetune_start",
            "/finetune_status", "/analyse", "/save_annotation", "/pick_mask",
            "/load_example", "/attention_refresh_0", "/compare_view", "/annotations_search"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app with MCP on, and alice's fine-tuned model `finetuned/mine` on disk."""
    from albert_demo import AlbertMaskedLM
    from albert_demo.finetune.registry import owner_key
    folder = tmp_path_factory.mktemp("programs")
    AlbertMaskedLM.from_preset(EMBEDDED_PRESET).save_to_preset(
        folder / "data" / "finetuned" / owner_key("alice") / "mine")
    launched = LaunchedApp(folder / "data", folder / "app.log", args=("--mcp",))
    try:
        launched.wait_until_serving()
        launched.gradio = Client(launched.url, verbose=False)
        wait_for_warm_up(launched.gradio)
        yield launched
    finally:
        launched.stop()


def predicted(app, text, top_k, preset=EMBEDDED_PRESET, session_id=""):
    """What /predict (through gradio_client) answers: per mask, [(score, id, word)]."""
    found = app.gradio.predict(text, preset, top_k, session_id, api_name="/predict")
    return [[(p["score"], p["token_id"], p["token"]) for p in m["predictions"]]
            for m in found["masks"]]


def elements(mask):
    return [(e.score, e.token, e.token_str) for e in mask]


def test_inference_client_fill_mask_gives_predicts_results(app):
    client = InferenceClient(model=f"{app.url}models/{EMBEDDED_PRESET}")
    one = client.fill_mask("The sky is [MASK] today.", top_k=3)
    assert elements(one) == predicted(app, "The sky is [MASK] today.", 3)[0]
    assert one[0].sequence == f"The sky is {one[0].token_str} today."
    two = client.fill_mask("The [MASK] barked at the [MASK].")  # the Hub's default top_k 5
    assert [elements(mask) for mask in two] == predicted(app, "The [MASK] barked at the [MASK].",
                                                         5)
    assert two[1][0].sequence == f"The [MASK] barked at the {two[1][0].token_str}."


def test_inference_client_targets(app):
    client = InferenceClient(model=f"{app.url}models/{EMBEDDED_PRESET}")
    found = client.fill_mask("The sky is [MASK].", targets=["grey", "blue", "green"], top_k=2)
    scores = app.gradio.predict("The sky is [MASK].", EMBEDDED_PRESET, "grey, blue, green",
                                api_name="/score_candidates")["candidates"]
    best = sorted(((c["scores"][0], c["word"]) for c in scores), reverse=True)[:2]
    assert [(e.score, e.token_str) for e in found] == best


def test_inference_client_hears_the_error(app):
    client = InferenceClient(model=f"{app.url}models/{EMBEDDED_PRESET}")
    with pytest.raises(HfHubHTTPError, match="No \\[MASK\\] token found") as caught:
        client.fill_mask("There is no mask here.")
    assert caught.value.response.status_code == 400


def test_plain_requests(app):
    url = f"{app.url}models/{EMBEDDED_PRESET}"
    texts = ["The sky is [MASK].", "Paris is the capital of [MASK]."]
    reply = requests.post(url, json={"inputs": texts, "parameters": {"top_k": 2}}, timeout=30)
    assert reply.status_code == 200
    assert [[(e["score"], e["token"], e["token_str"]) for e in text] for text in reply.json()] \
        == [predicted(app, text, 2)[0] for text in texts]
    for body, status, message in [
            ({"inputs": "The sky is [MASK].", "parameters": {"top_k": 51}}, 400, "top_k"),
            ({"inputs": "The sky is [MASK]." * 200}, 400, "characters"),
            ({"inputs": "The sky\x00 is [MASK]."}, 400, "control"),
            ({"inputs": " ".join(["[MASK]"] * 21)}, 400, "at most 20"),
            ({"prompt": "The sky is [MASK]."}, 400, '"inputs"')]:
        refused = requests.post(url, json=body, timeout=30)
        assert (refused.status_code, list(refused.json())) == (status, ["error"]), refused.text
        assert message in refused.json()["error"]
    unknown = requests.post(f"{app.url}models/no_such_preset", json={"inputs": texts[0]},
                            timeout=30)
    assert unknown.status_code == 400 and "Unknown preset" in unknown.json()["error"]
    huge = requests.post(url, data=b"[" * 300_000, timeout=30)
    assert huge.status_code == 413 and "at most" in huge.json()["error"]


def test_finetuned_models_by_session_header(app):
    url = f"{app.url}models/finetuned/mine"
    body = {"inputs": "The sky is [MASK].", "parameters": {"top_k": 3}}
    mine = requests.post(url, json=body, headers={"X-Session-Id": "alice"}, timeout=60)
    assert mine.status_code == 200
    assert [(e["score"], e["token"], e["token_str"]) for e in mine.json()] == predicted(
        app, body["inputs"], 3, "finetuned/mine", session_id="alice")[0]
    for headers in ({"X-Session-Id": "bob"}, {}):  # not yours, or nobody's
        refused = requests.post(url, json=body, headers=headers, timeout=60)
        assert refused.status_code == 400 and list(refused.json()) == ["error"]


def test_the_listing_is_the_read_only_endpoints_the_rest_stays_callable(app):
    listed = requests.get(f"{app.url}gradio_api/info", timeout=30).json()["named_endpoints"]
    assert set(listed) == LISTED  # the API page, and what agents see
    viewed = app.gradio.view_api(print_info=False, return_format="dict")
    assert set(viewed["named_endpoints"]) == LISTED
    every = set(requests.get(f"{app.url}gradio_api/info?all_endpoints=true",
                             timeout=30).json()["named_endpoints"])
    assert UNLISTED <= every  # the page still calls them


def test_an_unlisted_endpoint_takes_every_argument_positionally(app):
    text = "The sky is [MASK]."
    with pytest.raises(ValueError, match="does not support key-word arguments"):
        app.gradio.predict(text, EMBEDDED_PRESET, 0, "right", "", "", "",
                           session_id="programs-test", api_name="/annotate")
    row = app.gradio.predict(text, EMBEDDED_PRESET, 0, "right", "", "", "", "programs-test",
                             api_name="/annotate")
    assert row["session_id"] == "programs-test"
    # and still refuses another person's rows, and a call without a session id
    with pytest.raises(AppError, match=f"No annotation #{row['id']} among yours"):
        app.gradio.predict("someone-else", row["id"], None, None, None, "mine now",
                           api_name="/annotation_update")
    with pytest.raises(AppError, match="needs your session_id"):
        app.gradio.predict("", row["id"], None, None, None, "mine now",
                           api_name="/annotation_update")
    mine = app.gradio.predict("programs-test", row["id"], None, None, None, "edited",
                              api_name="/annotation_update")
    assert (mine["id"], mine["note"]) == (row["id"], "edited")


async def _mcp(url, calls):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client
    async with streamablehttp_client(f"{url}gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = (await session.list_tools()).tools
            results = [await session.call_tool(name, arguments) for name, arguments in calls]
    return tools, results


def test_mcp_tools_are_the_read_only_ones_and_answer_as_predict(app):
    text = "The [MASK] is blue."
    tools, (filled, refused, explained, stateful) = asyncio.run(_mcp(app.url, [
        ("fill_mask", {"text": text, "top_k": 3}),
        ("fill_mask", {"text": "No mask here.", "top_k": 3}),
        ("explain_prediction", {"text": text, "method": "gradient_x_input"}),
        ("annotate", {"text": text, "verdict": "right", "session_id": "agent"})]))
    names = {tool.name for tool in tools}
    assert names == TOOLS and not {name.lower() for name in names} & STATEFUL
    for tool in tools:  # an agent learns every argument from the description
        assert "Read-only" in tool.description
        assert all(p.get("description") for p in tool.inputSchema["properties"].values())
    assert not filled.isError
    found = json.loads(filled.content[0].text)  # JSON, not Gradio's Python repr
    assert [[(p["score"], p["token_id"], p["token"]) for p in m["predictions"]]
            for m in found["masks"]] == predicted(app, text, 3)
    assert refused.isError and "No [MASK] token found" in refused.content[0].text
    assert not explained.isError and "attributions" in json.loads(explained.content[0].text)
    # not listed, and not callable by name either
    assert stateful.isError and "Unknown tool" in stateful.content[0].text
