"""`python app.py` launched for real and driven with gradio_client."""

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from albert_demo.presets.registry import EMBEDDED_PRESET

pytestmark = pytest.mark.system  # Against a launched app.

WORDS = "the old man walked his small dog along the quiet river near our town".split()


@pytest.fixture(scope="module")
def client(app_server):
    return Client(app_server.url, verbose=False)


def test_first_prediction_came_back(app_server):
    masks = app_server.first_prediction["masks"]
    assert masks[0]["index"] == 4 and masks[0]["predictions"]
    print(f"\ncold start to first /predict: {app_server.cold_start_s:.1f} s")


def test_predict(client):
    result = client.predict("Paris is the capital of [MASK].", EMBEDDED_PRESET, 10,
                            api_name="/predict")
    assert result["mode"] == "independent" and len(result["masks"][0]["predictions"]) == 10
    scores = [p["score"] for p in result["masks"][0]["predictions"]]
    assert scores == sorted(scores, reverse=True)


def test_attention(client):
    result = client.predict("The [MASK] is blue.", EMBEDDED_PRESET, 0, 1, api_name="/attention")
    n = len(result["tokens"])
    assert result["shape"] == [1, 1, n, n] and result["mask_indices"] == [2]


@pytest.mark.parametrize("text, preset, message", [
    ("No mask here.", EMBEDDED_PRESET, "No [MASK] token found"),
    ("", EMBEDDED_PRESET, "The text is empty"),
    ("The sky\x00 is [MASK].", EMBEDDED_PRESET, "control"),
    ("The sky is [MASK].", "no_such_preset", "Unknown preset"),
])
def test_errors_reach_the_client(client, text, preset, message):
    with pytest.raises(AppError, match=message.replace("[", r"\[").replace("]", r"\]")):
        client.predict(text, preset, 5, api_name="/predict")


def test_sixteen_concurrent_clients(app_server):
    def one(n):
        own = Client(app_server.url, verbose=False)
        text = f"Client {n} says the [MASK] is {WORDS[n % len(WORDS)]}."
        return own.predict(text, EMBEDDED_PRESET, 3, api_name="/predict")

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    assert all(len(r["masks"]) == 1 and len(r["masks"][0]["predictions"]) == 3
               for r in results)


def mixed_texts(count, seed=0):
    """Lengths from a few tokens up to about 120 (buckets 16..128), 1 to 3 masks."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 110))]
        for _ in range(rng.randint(1, 3)):
            words[rng.randrange(len(words))] = "[MASK]"
        texts.append(" ".join(words) + ".")
    return texts


def test_no_compilation_after_warm_up(client):
    before = client.predict(api_name="/engine_stats")
    assert before["warm"] and EMBEDDED_PRESET in before["loaded"]
    for n, text in enumerate(mixed_texts(100)):
        api = ("/predict", "/predict_joint", "/attention")[n % 3]
        extra = (EMBEDDED_PRESET, 5) if api != "/attention" else (EMBEDDED_PRESET, 0, 0)
        client.predict(text, *extra, api_name=api)
    after = client.predict(api_name="/engine_stats")
    print(f"\ncompilations during 100 mixed-length requests after warm-up: "
          f"{after['traces'] - before['traces']} (total {after['traces']})")
    assert after["traces"] == before["traces"]


def test_salience_is_compiled_at_start_for_short_texts(client):
    """Integrated gradients and gradient x input for texts up to the 32-token bucket are
    compiled by the warm-up; asking for them compiles nothing more."""
    from tests.harness.app import wait_for_warm_up
    before = wait_for_warm_up(client)
    assert before["salience_traces"] >= 4  # 2 buckets x (integrated gradients, gxi)
    for n, text in enumerate(["The sky is [MASK].", " ".join(["word"] * 20) + " [MASK]."]):
        for method in ("integrated_gradients", "gradient_x_input"):
            result = client.predict(text, EMBEDDED_PRESET, 0, "", method,
                                    api_name="/salience")
            assert len(result["attributions"]) == len(result["tokens"])
    after = client.predict(api_name="/engine_stats")
    assert after["salience_traces"] == before["salience_traces"]
    assert after["traces"] == before["traces"]


def test_annotate_export_import_evaluate(client, tmp_path):
    session = "client-test-session"
    row = client.predict("The capital of France is [MASK].", EMBEDDED_PRESET, 0, "wrong",
                         "paris", "geo", "from the client", session, api_name="/annotate")
    assert row["session_id"] == session and row["correct_token"] == "paris"
    client.predict("The sky is [MASK].", EMBEDDED_PRESET, 0, "right", "", "", "", session,
                   api_name="/annotate")
    path = client.predict(session, "jsonl", "", "", "", "any", "", "",
                          api_name="/annotations_export")
    lines = open(path, encoding="utf-8").read().splitlines()
    assert len(lines) == 2
    imported = tmp_path / "again.jsonl"
    imported.write_text("\n".join(lines) + "\n", encoding="utf-8")
    from gradio_client import handle_file
    message = client.predict("client-import-session", handle_file(str(imported)),
                             api_name="/annotations_import")
    assert message == "Imported 2 rows."
    rows, _ = client.predict("client-import-session", [EMBEDDED_PRESET], api_name="/evaluate")
    assert rows["data"][0][0] == EMBEDDED_PRESET and rows["data"][0][1] == 2
    with pytest.raises(AppError, match="line 1"):
        bad = tmp_path / "bad.jsonl"
        bad.write_text("{not json\n")
        client.predict(session, handle_file(str(bad)), api_name="/annotations_import")


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def test_plain_http_sessions_stay_small(app_server):
    """Each POST /gradio_api/call/... is a new Gradio session, kept for up to 10,000
    sessions. Gradio's own session snapshot of this page cost 560 KB each (168 MB per 300
    calls); lean sessions keep it to tens of KB. The /run/ route answers in one POST."""
    import httpx
    body = {"data": ["The sky is [MASK].", EMBEDDED_PRESET, 3, ""]}
    with httpx.Client(base_url=app_server.url.rstrip("/"), timeout=60) as http:
        def call():
            event_id = http.post("/gradio_api/call/predict", json=body).json()["event_id"]
            with http.stream("GET", f"/gradio_api/call/predict/{event_id}") as stream:
                assert "event: complete" in list(stream.iter_lines())

        for _ in range(50):  # allocator and caches settle first
            call()
        before = rss_bytes(app_server.process.pid)
        for _ in range(300):
            call()
        grown = rss_bytes(app_server.process.pid) - before
        direct = http.post("/gradio_api/run/predict", json=body).raise_for_status().json()
    print(f"\nRSS after 300 new plain-HTTP sessions: {grown / 2**20:+.1f} MB")
    assert grown < 60 * 2**20
    assert direct["data"][0]["masks"][0]["predictions"]
