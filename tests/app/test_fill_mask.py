"""The Hub's fill-mask task over the app's predictions (`services/fill_mask.py`) and its
route (`ui/fill_mask_route.py`) without launching the app; `test_programs.py` drives the
launched app with the real clients."""

import asyncio
import base64
from concurrent.futures import ThreadPoolExecutor

import anyio

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from albert_demo.engine import InputError
from albert_demo.presets.registry import EMBEDDED_PRESET
from albert_demo.services.fill_mask import MAX_INPUTS, FillMaskService
from albert_demo.ui.fill_mask_route import MAX_BODY_BYTES, ROUTE_THREADS, fill_mask_routes
from tests.harness.held_calls import HeldCalls

TINY = EMBEDDED_PRESET
ELEMENT = {"score", "token", "token_str", "sequence"}


@pytest.fixture()
def fill_mask(services):
    return FillMaskService(services.predictions)


def test_one_mask_is_a_flat_list_with_predicts_numbers(services, fill_mask):
    text = "The sky is [mask] today."
    reply = fill_mask.answer(TINY, {"inputs": text, "parameters": {"top_k": 4}})
    expected = services.predictions.predict(text, TINY, 4)["masks"][0]["predictions"]
    assert [set(e) for e in reply] == [ELEMENT] * 4
    assert [(e["score"], e["token"], e["token_str"]) for e in reply] == [
        (p["score"], p["token_id"], p["token"]) for p in expected]
    assert [e["sequence"] for e in reply] == [f"The sky is {p['token']} today."
                                              for p in expected]


def test_several_masks_are_a_list_per_mask_each_filling_only_its_own(services, fill_mask):
    text = "The [MASK] barked at the [MASK]."
    reply = fill_mask.answer(TINY, {"inputs": text})  # top_k 5 by default, as the Hub
    expected = services.predictions.predict(text, TINY, 5)["masks"]
    assert len(reply) == 2 and all(len(mask) == 5 for mask in reply)
    for mask, found in zip(reply, expected):
        assert [e["token"] for e in mask] == [p["token_id"] for p in found["predictions"]]
    first, second = reply[0][0], reply[1][0]
    assert first["sequence"] == f"The {first['token_str']} barked at the [MASK]."
    assert second["sequence"] == f"The [MASK] barked at the {second['token_str']}."


def test_a_list_of_texts_gets_one_reply_per_text(fill_mask):
    texts = ["The sky is [MASK].", "The [MASK] is [MASK]."]
    reply = fill_mask.answer(TINY, {"inputs": texts, "parameters": {"top_k": 2}})
    assert reply[0] == fill_mask.answer(TINY, {"inputs": texts[0], "parameters": {"top_k": 2}})
    assert len(reply[1]) == 2 and len(reply[1][0]) == 2


def test_targets_are_scored_as_score_candidates_scores_them(services, fill_mask):
    text = "The [MASK] is [MASK]."
    reply = fill_mask.answer(TINY, {"inputs": text, "parameters": {
        "targets": ["blue", "sky", "Blue", "dog"], "top_k": 3}})
    scored = services.predictions.score_candidates(text, TINY, "blue, sky, dog")
    for m, mask in enumerate(reply):
        expected = sorted(((c["scores"][m], c["word"]) for c in scored["candidates"]),
                          reverse=True)
        assert [(e["score"], e["token_str"]) for e in mask] == expected  # "Blue" = "blue"
    single = fill_mask.answer(TINY, {"inputs": "The sky is [MASK].",
                                     "parameters": {"targets": "blue", "top_k": 5}})
    assert [e["token_str"] for e in single] == ["blue"]


def test_requests_are_served_by_the_engines_batcher(services, fill_mask):
    """Each text goes through the predictor's batcher, as /predict's do (the counters
    count every request a batch served)."""
    model = services.predictions.model(TINY)

    def served():
        return sum(batcher.requests for batcher in model._batchers.values())

    before = served()
    texts = [f"Request {n} says the sky is [MASK]." for n in range(8)]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda t: fill_mask.answer(TINY, {"inputs": t}), texts))
    assert served() - before == 8 and all(len(reply) == 5 for reply in replies)


@pytest.mark.parametrize("payload, message", [
    (["The sky is [MASK]."], "JSON object"),
    ({"text": "The sky is [MASK]."}, "JSON object"),
    ({"inputs": 7}, "inputs"),
    ({"inputs": []}, "inputs"),
    ({"inputs": ["The sky is [MASK]."] * (MAX_INPUTS + 1)}, f"at most {MAX_INPUTS}"),
    ({"inputs": "No mask here."}, "No [MASK] token found"),
    ({"inputs": "x" * 3000 + " [MASK]"}, "characters"),
    ({"inputs": "The sky is [MASK].", "parameters": {"top_k": 0}}, "top_k must be between"),
    ({"inputs": "The sky is [MASK].", "parameters": {"top_k": "many"}}, "whole number"),
    ({"inputs": "The sky is [MASK].", "parameters": {"top_k": 0, "targets": ["blue"]}},
     "top_k must be between"),
    ({"inputs": "The sky is [MASK].", "parameters": {"targets": []}}, "targets"),
    ({"inputs": "The sky is [MASK].", "parameters": {"targets": ["a"] * 21}}, "At most 20"),
    ({"inputs": "The sky is [MASK].", "parameters": {"temperature": 2}}, "Unknown parameter"),
    ({"inputs": "The sky is [MASK].", "parameters": [5]}, "parameters"),
])
def test_mistakes_are_input_errors(fill_mask, payload, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        fill_mask.answer(TINY, payload)


@pytest.fixture()
def http(fill_mask):
    return TestClient(FastAPI(routes=fill_mask_routes(fill_mask)))


def test_the_route_answers_the_service_and_refuses_with_json(http, fill_mask):
    body = {"inputs": "The sky is [MASK].", "parameters": {"top_k": 2}}
    ok = http.post(f"/models/{TINY}", json=body)
    assert ok.status_code == 200 and ok.json() == fill_mask.answer(TINY, body)
    for response, status, message in [
            (http.post(f"/models/{TINY}", json={"inputs": "no mask"}), 400, "No [MASK]"),
            (http.post("/models/no_such_preset", json=body), 400, "Unknown preset"),
            (http.post(f"/models/{TINY}", content=b"{not json"), 400, "must be JSON"),
            (http.post(f"/models/{TINY}", content=b"\xff\xfe"), 400, "must be JSON"),
            (http.post(f"/models/{TINY}", content=b"x" * (MAX_BODY_BYTES + 1)), 413,
             "at most")]:
        assert response.status_code == status, response.text
        assert list(response.json()) == ["error"] and message in response.json()["error"]


def test_a_fault_is_a_500_without_a_trace(services):
    class Broken(FillMaskService):
        def answer(self, *args):
            raise RuntimeError("/srv/secret/path exploded")

    http = TestClient(FastAPI(routes=fill_mask_routes(Broken(services.predictions))))
    response = http.post(f"/models/{TINY}", json={"inputs": "The sky is [MASK]."})
    assert response.status_code == 500
    assert response.json() == {"error": "Something went wrong (RuntimeError); the details "
                                        "are in the server log."}


def test_a_server_with_logins_wants_one(fill_mask):
    http = TestClient(FastAPI(routes=fill_mask_routes(fill_mask, users=[("ann", "pw")])))
    body = {"inputs": "The sky is [MASK]."}

    def basic(text):
        return {"Authorization": "Basic " + base64.b64encode(text.encode()).decode()}

    assert http.post(f"/models/{TINY}", json=body, headers=basic("ann:pw")).status_code == 200
    for headers in ({}, basic("ann:wrong"), basic("bob:pw"), {"Authorization": "Basic %%"},
                    {"Authorization": "Bearer hf_token"}):
        refused = http.post(f"/models/{TINY}", json=body, headers=headers)
        assert refused.status_code == 401 and "login" in refused.json()["error"]



def test_mcp_is_opt_in():
    """Off unless `app.py --mcp` or ALBERT_DEMO_MCP says so."""
    from albert_demo.settings import Settings
    from app import parse_args
    assert parse_args(["--mcp"]).mcp and not parse_args([]).mcp
    assert [Settings.from_env(env).mcp_server for env in (
        {}, {"ALBERT_DEMO_MCP": "1"}, {"ALBERT_DEMO_MCP": "true"}, {"ALBERT_DEMO_MCP": "0"})] \
        == [False, True, True, False]


def test_json_nested_thousands_deep_is_a_400_not_a_500(http):
    """The hostile pass sent 100,000 nested brackets: json.loads raised RecursionError,
    which the route answered with a 500."""
    deep = b'{"inputs":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = http.post(f"/models/{TINY}", content=deep)
    assert response.status_code == 400, response.text
    assert "nested too deeply" in response.json()["error"]


def test_a_reply_of_tens_of_megabytes_is_refused_before_any_work(services, fill_mask):
    """16 texts x 20 masks x top_k 50 x ~2,000 characters made a 33 MB reply from a 32 KB
    request; the estimate refuses it before a prediction runs, while one text at every
    bound still gets its answer."""
    from albert_demo.services.fill_mask import MAX_REPLY_CHARS
    text = ("word " * 17 + "[MASK] ") * 20
    before = services.predictions.engine_stats()["traces"]
    with pytest.raises(InputError, match="would return about .* MB"):
        fill_mask.answer(TINY, {"inputs": [text] * MAX_INPUTS, "parameters": {"top_k": 50}})
    assert services.predictions.engine_stats()["traces"] == before
    one = fill_mask.answer(TINY, {"inputs": text, "parameters": {"top_k": 50}})
    assert len(one) == 20 and all(len(mask) == 50 for mask in one)
    assert len(str(one)) < MAX_REPLY_CHARS
    spaced = text.replace("[MASK]", "[ mask ]")  # read as masks: counted as masks
    with pytest.raises(InputError, match="would return about .* MB"):
        fill_mask.answer(TINY, {"inputs": [spaced] * MAX_INPUTS, "parameters": {"top_k": 50}})


def test_a_score_json_cannot_hold_is_a_json_500(services):
    class Diverged(FillMaskService):
        def answer(self, *args):
            return [{"score": float("nan"), "token": 1, "token_str": "x", "sequence": "x"}]

    http = TestClient(FastAPI(routes=fill_mask_routes(Diverged(services.predictions))))
    response = http.post(f"/models/{TINY}", json={"inputs": "The sky is [MASK]."})
    assert response.status_code == 500 and list(response.json()) == ["error"]


def test_mcp_is_refused_with_logins():
    """Gradio's MCP endpoint runs tools without the login check, so --users and --mcp
    together would open the tools to anyone: the server does not start."""
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[2]
    users = Path(repo / "tests" / "app")  # any existing path: refused before it is read
    done = subprocess.run([sys.executable, str(repo / "app.py"), "--mcp", "--users",
                           str(users / "conftest.py"), "--port", "1"],
                          capture_output=True, text=True, timeout=120, cwd=repo)
    assert done.returncode != 0
    assert "--mcp cannot be combined with --users" in done.stderr


def test_engine_stats_names_only_the_presets_known_by_name(services):
    """/engine_stats answers anyone: it used to list other sessions' fine-tuned models
    (with their owner's hashed folder) and absolute paths of local presets."""
    predictions = services.predictions
    predictor = predictions.model(TINY)
    private = ["finetuned/aea2266d2b31a159acbec858/secretmodel", "/srv/team/preset"]
    for key in private:
        predictions.cache.put(key, predictor)
    try:
        stats = predictions.engine_stats()
    finally:
        for key in private:
            predictions.cache.drop(key)
    assert TINY in stats["loaded"]
    assert {"other model 1", "other model 2"} <= set(stats["loaded"])
    shown = str(stats)
    assert "secretmodel" not in shown and "aea2266d" not in shown and "/srv" not in shown
    assert set(stats["traces_per_preset"]) == set(stats["loaded"])
    # how often a private model is used is its owner's business too
    counted = set(stats["shared_batches_per_preset"])
    assert TINY in counted and not any(name.startswith("other model") for name in counted)


class HeldFillMask(FillMaskService):
    """Answers only when the test releases it."""

    def __init__(self, predictions, held):
        super().__init__(predictions)
        self.held = held

    def answer(self, *args):
        self.held.hold()
        return [[]]


async def post_all(app, count):
    """`count` requests sent at once to `app`: (client, their tasks)."""
    import httpx
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://route")
    return client, [asyncio.create_task(client.post(f"/models/{TINY}", json={"inputs": "x"}))
                    for _ in range(count)]


def test_the_route_holds_its_own_threads_never_the_pages(services):
    """Programs flooding the route wait for the route's own worker threads: anyio's default
    pool, where Gradio runs the page's events, stays free for the people on the page."""
    held = HeldCalls()

    async def flood():
        app = FastAPI(routes=fill_mask_routes(HeldFillMask(services.predictions, held)))
        client, sent = await post_all(app, ROUTE_THREADS + 16)
        async with client:
            await held.until_inside(ROUTE_THREADS)
            await asyncio.sleep(0.2)  # time for any request beyond them to start, were it let
            taken = held.inside
            page_pool = anyio.to_thread.current_default_thread_limiter().borrowed_tokens
            held.release.set()
            replies = await asyncio.gather(*sent)
        return taken, page_pool, replies

    taken, page_pool, replies = asyncio.run(flood())
    assert taken == ROUTE_THREADS and page_pool == 0
    assert [r.status_code for r in replies] == [200] * (ROUTE_THREADS + 16)


def test_a_flood_beyond_the_bound_is_a_503_at_once_and_the_bound_frees_again(services):
    """Requests past `max_pending` (running or waiting for a route thread) are refused at
    once with Retry-After, before their bodies are read; finished ones free their place."""
    held, bound, extra = HeldCalls(), ROUTE_THREADS + 4, 6

    async def flood():
        app = FastAPI(routes=fill_mask_routes(HeldFillMask(services.predictions, held),
                                              max_pending=bound))
        client, sent = await post_all(app, bound + extra)
        async with client:
            await held.until_inside(ROUTE_THREADS)
            refused = [task.result() for task in sent if task.done()]  # while all are held
            held.release.set()
            replies = await asyncio.gather(*sent)
            later = await client.post(f"/models/{TINY}", json={"inputs": "x"})
        return refused, replies, later

    refused, replies, later = asyncio.run(flood())
    assert [r.status_code for r in refused] == [503] * extra
    assert refused[0].headers["retry-after"] == "1"
    assert f"holding {bound} requests" in refused[0].json()["error"]
    assert sorted(r.status_code for r in replies) == [200] * bound + [503] * extra
    assert later.status_code == 200


def test_a_body_trickled_in_never_holds_a_real_requests_place(fill_mask):
    """A connection sending a byte now and then (slowloris) never counts among the
    requests held, and is cut off after `body_seconds`."""
    async def trickle():
        yield b'{"inputs": '
        await asyncio.sleep(5)
        yield b'"x [MASK]"}'

    async def scenario():
        app = FastAPI(routes=fill_mask_routes(fill_mask, max_pending=1, body_seconds=0.5))
        import httpx
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://route") as client:
            slow = asyncio.create_task(client.post(f"/models/{TINY}", content=trickle()))
            await asyncio.sleep(0.1)
            real = await client.post(f"/models/{TINY}", json={"inputs": "The sky is [MASK]."})
            # `real` was counted while `slow` still trickled (0.1 s in, of 0.5): with the
            # place taken before the body, it would have been a 503.
            return await slow, real

    slow, real = asyncio.run(scenario())
    assert slow.status_code == 408 and "within 0.5 s" in slow.json()["error"]
    assert real.status_code == 200 and real.json()[0]["token_str"]
