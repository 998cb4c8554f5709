"""The tab's logic through `FinetuneService` (no browser), and the tab's API names.
The tab is handed a service built here, as app.py builds one."""

from types import SimpleNamespace

import pytest

from finetune_helpers import domain_sentences, fast_settings

from albert_demo.finetune import FinetuneDataError
from albert_demo.finetune.service import (FinetuneService, loss_figure, metrics_rows,
                                          probe_rows, progress_text)


def test_service_runs_upload_to_result(tiny_preset, tmp_path):
    from albert_demo.finetune import TrainingQueue
    upload = tmp_path / "legal.csv"
    upload.write_text("id,text\n" + "\n".join(f"{i},{s}" for i, s in
                                              enumerate(domain_sentences(80))))
    service = FinetuneService(tmp_path, queue=TrainingQueue(1), extra_bases=[tiny_preset])
    assert service.inspect(str(upload)) == {"kind": "csv", "columns": ["id", "text"],
                                            "column": "text"}
    counts = service.preview("s1", str(upload), "text", base_preset=tiny_preset,
                             sequence_length=32)
    assert counts["passages"] == 80 and counts["valid_passages"] == 8
    # Sample passages as read, and the probes a run would make from the held-out lines.
    assert len(counts["sample_train_passages"]) == 3
    assert set(counts["sample_train_passages"]) <= set(domain_sentences(80))
    assert counts["probes"] and all(p.count("[MASK]") == 1 for p in counts["probes"])
    assert "too few" in counts["note"]  # 8 short lines: ~12 masked tokens
    with pytest.raises(FinetuneDataError, match="Unknown base preset"):
        service.preview("s1", str(upload), "text", base_preset="/etc")
    settings = fast_settings(tiny_preset, steps=12, probes=("the jury [MASK] the claim.",))
    state = service.start("s1", settings, str(upload), "text")
    assert state["active"]
    with pytest.raises(FinetuneDataError, match="already have a training running"):
        service.start("s1", settings, str(upload), "text")
    assert service.status("s2")["status"] == "idle"
    state = service.wait("s1", timeout=120)
    assert state["status"] == "done" and not state["active"], state["error"]
    assert "finetuned/legal" in service.base_choices("s1")
    assert "finetuned/legal" not in service.base_choices("s2")
    assert "step 12/12" in progress_text(state)
    assert [row[0] for row in metrics_rows(state)] == ["masked-token loss", "top-1 accuracy",
                                                       "top-5 accuracy"]
    assert all(row[1] is not None and row[2] is not None for row in metrics_rows(state))
    assert probe_rows(state)[0][0] == "the jury [MASK] the claim."
    assert len(probe_rows(state)[0][2].split(", ")) == 5  # the top 5, not the sentence again
    assert len(loss_figure(state["history"]).data[0].x) == 12
    with pytest.raises(FinetuneDataError, match="no training of yours"):
        service.cancel("s1")


def test_starting_a_new_run_stops_offering_the_interrupted_one(tiny_preset, tmp_path):
    """The state a crash leaves (manifest still "training", a checkpoint) is made by hand
    here; test_finetune_processes.py makes it with a real kill -9 and resumes it."""
    import json
    import shutil

    from albert_demo.finetune import FinetunedRegistry, TrainingQueue
    from albert_demo.finetune.manifest import read_run
    run_dir = FinetunedRegistry(tmp_path).run_dir("s1", "crashed")
    shutil.copytree(tiny_preset, run_dir / "checkpoints" / "step-000005")
    (run_dir / "run.json").write_text(json.dumps({
        "status": "training", "settings": {"name": "old"}, "total_steps": 50}))
    service = FinetuneService(tmp_path, queue=TrainingQueue(1), extra_bases=[tiny_preset])
    state = service.status("s1")
    assert state["status"] == "interrupted" and state["step"] == 5
    assert "Resume" in progress_text(state)
    upload = tmp_path / "t.txt"
    upload.write_text("\n".join(domain_sentences(40)))
    service.start("s1", fast_settings(tiny_preset, steps=2), str(upload))
    assert service.interrupted("s1") is None and read_run(run_dir)["status"] == "abandoned"
    assert service.wait("s1", timeout=120)["status"] == "done"


def test_no_text_is_a_clear_error(tmp_path):
    service = FinetuneService(tmp_path)
    with pytest.raises(FinetuneDataError, match="No training text"):
        service.passages("s1")
    with pytest.raises(FinetuneDataError, match="Annotations are not enabled"):
        service.passages("s1", use_annotations=True)


def test_annotations_become_training_text(tmp_path):
    from albert_demo.annotations import AnnotationStore
    store = AnnotationStore.sqlite(tmp_path / "a.db")
    preds = [{"token": "\u2581capital", "token_id": 1, "score": 0.9}]
    store.add(session_id="s1", preset="p", text="Paris is the [MASK] of France.",
              mask_index=4, mask_ordinal=0, predictions=preds, verdict="right")
    service = FinetuneService(tmp_path, store=store)
    assert service.passages("s1", use_annotations=True) == ["Paris is the capital of France."]
    with pytest.raises(FinetuneDataError, match="None of your annotations"):
        service.passages("s2", use_annotations=True)


def test_empty_loss_plot_says_so_instead_of_showing_axes():
    figure = loss_figure([])
    assert not figure.data
    assert figure.layout.xaxis.visible is False and figure.layout.yaxis.visible is False
    assert "once training starts" in figure.layout.annotations[0].text


def test_progress_shows_notes():
    state = {"status": "done", "message": "Finished after 1 step; saved as finetuned/x.",
             "notes": ["The validation split has only 9 masked tokens"]}
    assert "only 9 masked tokens" in progress_text(state)


def test_tab_builds_with_api_names(tmp_path):
    import gradio as gr

    from albert_demo.ui.finetune_tab import build_finetune_tab
    with gr.Blocks() as demo:
        session = gr.State("s1")
        with gr.Tab("Fine-tune"):
            build_finetune_tab(SimpleNamespace(finetune=FinetuneService(tmp_path),
                                               session=session))
    names = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"finetune_preview", "finetune_start", "finetune_status", "finetune_cancel",
            "finetune_result", "finetune_columns"} <= names


def test_gradio_client_drives_a_whole_run(tiny_preset, tmp_path):
    import time

    import gradio as gr
    from gradio_client import Client, handle_file

    from albert_demo.ui import finetune_tab
    upload = tmp_path / "legal.txt"
    upload.write_text("\n".join(domain_sentences(40)))
    service = FinetuneService(tmp_path, extra_bases=[tiny_preset])  # offers the tiny preset
    with gr.Blocks() as demo:
        session = gr.State("client")
        with gr.Tab("Fine-tune"):
            finetune_tab.build_finetune_tab(SimpleNamespace(finetune=service, session=session))
    demo.launch(prevent_thread_lock=True, quiet=True, show_error=True)  # as app.py
    try:
        client = Client(demo.local_url, verbose=False)
        with pytest.raises(Exception, match="no interrupted training of yours"):
            client.predict(api_name="/finetune_resume")
        # Bad values get a message naming what is wrong: Gradio's own for a wrong type at
        # a Number input (show_error=True, as app.py), ours for the settings' ranges.
        for bad, message in ((dict(steps="lots"), "Expected a `float"),
                             (dict(lr=-1), "learning rate must be above 0"),
                             (dict(batch=10**9), "batch size must be between 1 and 256")):
            values = dict(steps=8, lr=3e-3, batch=8, probes="")
            values.update(bad)
            with pytest.raises(Exception, match=message):
                client.predict(handle_file(str(upload)), None, False, tiny_preset, "bad",
                               values["steps"], 0, values["lr"], values["batch"], 32, 0.15,
                               0.1, False, values["probes"], api_name="/finetune_start")
        counts = client.predict(handle_file(str(upload)), None, False, tiny_preset, 32, 0.1,
                                api_name="/finetune_preview")
        assert counts["passages"] == 40
        client.predict(handle_file(str(upload)), None, False, tiny_preset, "via-api", 8, 0,
                       3e-3, 8, 32, 0.15, 0.1, False, "the judge [MASK] the case.",
                       api_name="/finetune_start")
        deadline = time.time() + 120
        while client.predict("client", api_name="/finetune_status")["active"]:
            assert time.time() < deadline
            time.sleep(0.5)
        result = client.predict("client", api_name="/finetune_result")
        assert result["status"] == "done" and result["model_name"] == "finetuned/via-api"
        assert result["after"]["loss"] < result["before"]["loss"]
        # Replies name files, never the server's folders.
        assert result["zip_file"].endswith(".zip") and "/" not in result["zip_file"]
        status = client.predict("client", api_name="/finetune_status")
        assert not any(isinstance(v, str) and str(tmp_path) in v for v in status.values())
        for call, args in (("/finetune_status", ("",)),):
            with pytest.raises(Exception, match="session_id"):  # no shared default owner
                client.predict(*args, api_name=call)
    finally:
        demo.close()


def test_resume_is_refused_like_start_while_a_training_of_yours_runs(tmp_path, monkeypatch):
    """One training per person, checked in one place for start and resume."""
    from albert_demo.callers import caller_id
    service = FinetuneService(tmp_path)
    running = SimpleNamespace(running=True)
    service._jobs[caller_id("s1")] = running
    monkeypatch.setattr(service, "interrupted", lambda session_id: {"run_dir": tmp_path})
    with pytest.raises(FinetuneDataError, match="already have a training running"):
        service.resume("s1")
    assert service.job("s1") is running
