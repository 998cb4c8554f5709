"""Waiting requests hear their queue position periodically, not each time any request starts.

Gradio's default ("auto") sends every waiting request an estimation message whenever any
request of its event starts: with n waiting that is O(n^2) messages, and under 50 users it
made the event loop the server's bottleneck (issue 16). The app sets a period
(`ALBERT_DEMO_QUEUE_STATUS_SECONDS`, default 1 s): each request hears one estimation when it
joins and then one per period while it waits.

Raw protocol, as a browser speaks it: join many predictions under one session, then read
that session's event stream to the end and count the messages each request got.
"""

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from albert_demo.presets.registry import EMBEDDED_PRESET

REQUESTS = 48
# A long text (bucket 128) so that requests queue up behind the four running at once.
TEXT = " ".join(["the old man walked his small dog along the quiet river"] * 9) + " [MASK]."


def predict_fn_index(base):
    config = httpx.get(f"{base}/config", timeout=30).json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == "predict")


def join_and_count(base, session, requests):
    fn_index = predict_fn_index(base)
    body = {"data": [TEXT, EMBEDDED_PRESET, 3, ""], "fn_index": fn_index, "session_hash": session,
            "event_data": None, "trigger_id": None}
    started = time.monotonic()
    with httpx.Client(timeout=120) as http, ThreadPoolExecutor(16) as pool:
        joined = list(pool.map(lambda _: http.post(f"{base}/gradio_api/queue/join",
                                                   json=body).json()["event_id"],
                               range(requests)))
        estimations, completed, ranks = Counter(), set(), []
        with http.stream("GET", f"{base}/gradio_api/queue/data",
                         params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[len("data:"):])
                kind = message.get("msg")
                if kind == "estimation":
                    estimations[message["event_id"]] += 1
                    ranks.append(message.get("rank"))
                elif kind == "process_completed":
                    assert message["success"], message
                    completed.add(message["event_id"])
                if len(completed) == requests or kind == "close_stream":
                    break
    assert completed == set(joined)
    return estimations, ranks, time.monotonic() - started


@pytest.mark.system
def test_waiting_requests_get_periodic_updates(app_server):
    base = app_server.url.rstrip("/")
    estimations, ranks, seconds = join_and_count(base, "queue-updates-test", REQUESTS)
    # The queue did build up: some requests waited behind others.
    assert max(r for r in ranks if r is not None) >= 8, ranks
    total = sum(estimations.values())
    print(f"\n{REQUESTS} queued predictions served in {seconds:.1f} s: {total} estimation "
          f"messages, at most {max(estimations.values())} to one request")
    # One at joining plus one per period (1 s) waited, whatever the machine's speed. With
    # "auto" the same run sends each waiting request one per start ahead of it: ~REQUESTS^2
    # / 2 in all (984-987 here, against 91-122 with the period, in 2 s).
    assert total <= REQUESTS * (2 + seconds), estimations


def test_queue_status_period_setting():
    from albert_demo import settings
    assert settings.Settings.from_env({}).queue_status_rate() == 1.0
    assert settings.Settings.from_env(
        {"ALBERT_DEMO_QUEUE_STATUS_SECONDS": "2.5"}).queue_status_rate() == 2.5
    # 0 asks for Gradio's own behaviour; nonsense and negatives stop the server at start.
    assert settings.Settings.from_env(
        {"ALBERT_DEMO_QUEUE_STATUS_SECONDS": "0"}).queue_status_rate() == "auto"
    for nonsense in ("-3", "soon", "nan", "inf", "0.001", "3600"):
        with pytest.raises(settings.SettingError, match="0.1 to 60 seconds"):
            settings.Settings.from_env({"ALBERT_DEMO_QUEUE_STATUS_SECONDS": nonsense})
