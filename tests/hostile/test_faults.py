"""Faults: kill -9 in the middle of requests, then restart; an unwritable data folder.

An acknowledged annotation survives the kill, the restarted app serves again, and a data
folder that cannot be written gives one clear message while predictions keep working.
"""

import signal
import threading

import pytest
from gradio_client import Client

from tests.harness.app import LaunchedApp

pytestmark = pytest.mark.system  # Launched apps killed and restarted.

TEXT = "She opened the [MASK] and walked in."


def launch(data_dir, log):
    app = LaunchedApp(data_dir, log)
    app.wait_until_serving()
    return app


@pytest.mark.timeout(600)
def test_kill_9_mid_requests_then_restart_loses_nothing(tmp_path):
    data = tmp_path / "data"
    app = launch(data, tmp_path / "first.log")
    try:
        client = Client(app.url, verbose=False)
        row = client.predict(TEXT, "albert_tiny_en_uncased", 0, "right", "", "fault", "",
                             "fault-session", api_name="/annotate")
        assert row["id"] >= 1
        # Requests in flight while the server dies: they fail, nothing else matters.
        def hammer():
            try:
                while True:
                    client.predict(TEXT, "albert_tiny_en_uncased", 5, api_name="/predict")
            except Exception:
                return
        workers = [threading.Thread(target=hammer) for _ in range(4)]
        for w in workers:
            w.start()
        app.process.send_signal(signal.SIGKILL)
        app.process.wait(timeout=30)
        for w in workers:
            w.join(timeout=60)
    finally:
        app.stop()

    restarted = launch(data, tmp_path / "second.log")
    try:
        client = Client(restarted.url, verbose=False)
        result = client.predict(TEXT, "albert_tiny_en_uncased", 5, api_name="/predict")
        assert len(result["masks"][0]["predictions"]) == 5
        path = client.predict("fault-session", "jsonl", "", "", "", "any", "", "",
                              api_name="/annotations_export")
        exported = open(path, encoding="utf-8").read()
        assert "She opened the [MASK] and walked in." in exported
    finally:
        restarted.stop()
    leftovers = [p for p in data.rglob("*") if p.name.endswith((".tmp", ".partial"))]
    assert not leftovers


@pytest.mark.timeout(600)
def test_unwritable_data_folder_serves_predictions_with_a_clear_message(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    app = launch(blocker / "data", tmp_path / "ro.log")  # cannot be created, even by root
    try:
        client = Client(app.url, verbose=False)
        result = client.predict(TEXT, "albert_tiny_en_uncased", 3, api_name="/predict")
        assert result["masks"]
        with pytest.raises(Exception, match="Annotations are not enabled"):
            client.predict(TEXT, "albert_tiny_en_uncased", 0, "right", "", "", "", "s",
                           api_name="/annotate")
        assert app.process.poll() is None  # still serving, no crash loop
    finally:
        app.stop()
    log = (tmp_path / "ro.log").read_text()
    assert "is not writable" in log and log.count("is not writable") == 1


@pytest.mark.timeout(600)
def test_app_started_on_a_full_disk_serves_predictions_and_says_why(tmp_path):
    from tests.harness.small_disk import small_disk
    with small_disk(tmp_path / "disk", 4) as disk:
        disk.fill()
        app = launch(disk.path / "data", tmp_path / "full.log")
        try:
            client = Client(app.url, verbose=False)
            assert client.predict(TEXT, "albert_tiny_en_uncased", 3,
                                  api_name="/predict")["masks"]
            with pytest.raises(Exception, match="Annotations are not enabled"):
                client.predict(TEXT, "albert_tiny_en_uncased", 0, "right", "", "", "", "s",
                               api_name="/annotate")
            assert app.process.poll() is None
        finally:
            app.stop()
    log = (tmp_path / "full.log").read_text()
    assert log.count("is not writable") == 1 and "No space left on device" in log
