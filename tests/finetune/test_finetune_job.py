"""A whole fine-tuning run on the tiny preset: loss goes down, results are published,
the zip loads in keras-hub, cancel and the queue behave, owners are isolated, a diverging
run is stopped."""

import time
import zipfile

import numpy as np
import pytest

from finetune_helpers import domain_sentences, fast_settings

from albert_demo.finetune import (FinetuneDataError, FinetunedRegistry, FinetuneJob,
                                  FinetuneSettings, TrainingQueue)

PROBES = ["the court [MASK] the motion on monday.", "no mask here"]


@pytest.fixture(scope="module")
def finished(tiny_preset, tmp_path_factory):
    from albert_demo.engine import ModelCache
    data_dir = tmp_path_factory.mktemp("data")
    models = ModelCache()
    upload = data_dir / "legal.txt"
    upload.write_text("\n".join(domain_sentences(200)))
    from albert_demo.finetune import read_upload
    passages = read_upload(upload).passages()
    job = FinetuneJob(fast_settings(tiny_preset, probes=PROBES, checkpoint_every=15),
                      passages, owner="alice", data_dir=data_dir, models=models,
                      queue=TrainingQueue(1))
    snapshot = job.start().wait(timeout=300)
    return job, snapshot, models, data_dir


def test_finetuning_lowers_validation_loss(finished):
    _, snap, _, _ = finished
    assert snap["status"] == "done", snap["error"]
    assert snap["step"] == snap["total_steps"] == 40
    before, after = snap["before"], snap["after"]
    assert set(before) >= {"loss", "top1", "top5", "masks"} and before["masks"] > 0
    assert after["loss"] < before["loss"] - 1.0
    assert after["top5"] > before["top5"]
    losses = [loss for _, loss in snap["history"]]
    assert len(losses) == 40 and np.mean(losses[-5:]) < np.mean(losses[:5])
    assert snap["tokens_per_s"] > 0 and snap["eta_s"] == 0.0


def test_probes_side_by_side(finished):
    _, snap, _, _ = finished
    first, bad = snap["probes"]
    assert first["text"] == PROBES[0]
    for side in ("base", "finetuned"):
        assert len(first[side]["masks"]) == 1 and len(first[side]["masks"][0]) == 5
    assert "[MASK]" not in first["finetuned"]["filled_text"]
    assert "No [MASK] token found" in bad["base"]["error"]


def test_result_is_published_served_and_owner_only(finished):
    job, snap, models, data_dir = finished
    assert snap["model_name"] == "finetuned/legal"
    alice = FinetunedRegistry(data_dir, sharing=False)
    assert alice.names("alice") == ["finetuned/legal"]
    assert alice.names("bob") == []
    with pytest.raises(FinetuneDataError, match="No fine-tuned model 'finetuned/legal'"):
        alice.load("bob", "finetuned/legal")
    shared = FinetunedRegistry(data_dir, sharing=True)
    assert [m.name.split("/")[-1] for m in shared.list("bob")] == ["legal"]
    assert not shared.list("bob")[0].mine
    entry = alice.resolve("alice", "finetuned/legal")
    assert entry.cache_key in models.loaded()  # served at once, under an owner-unique key
    assert alice.predictor("alice", "legal", models) is models.get(entry.cache_key)
    assert entry.info()["after"]["loss"] == snap["after"]["loss"]
    # The only visible checkpoint is the last one.
    assert [p.name for p in (job.run_dir / "checkpoints").iterdir()] == ["step-000040"]


def test_zip_loads_in_keras_hub_with_the_same_logits(finished, tmp_path):
    keras_hub = pytest.importorskip("keras_hub")
    _, snap, _, data_dir = finished
    with zipfile.ZipFile(snap["zip_path"]) as archive:
        archive.extractall(tmp_path)
    folder = tmp_path / "legal"
    assert (folder / "config.json").is_file()
    theirs = keras_hub.models.AlbertMaskedLM.from_preset(str(folder))
    ours = FinetunedRegistry(data_dir).load("alice", "finetuned/legal")
    x, _, _ = ours.preprocessor(domain_sentences(4, seed=9))
    difference = np.abs(np.asarray(ours.predict_on_batch(x)) -
                        np.asarray(theirs(x))).max()
    assert difference < 1e-4


def test_repeated_name_gets_a_suffix(finished, tiny_preset):
    job, _, _, data_dir = finished
    target = job.registry.reserve("alice", "legal")
    job.registry.release(target)
    assert target.name == "legal-2"


def test_cancel_and_queue_position(tiny_preset, tmp_path):
    queue = TrainingQueue(1)
    texts = domain_sentences(64)
    first = FinetuneJob(fast_settings(tiny_preset, steps=2000, checkpoint_every=2), texts,
                        "alice", tmp_path, queue=queue).start()
    second = FinetuneJob(fast_settings(tiny_preset, name="other"), texts, "bob", tmp_path,
                         queue=queue).start()
    deadline = time.time() + 120
    while first.progress.snapshot()["step"] < 4 and time.time() < deadline:
        time.sleep(0.05)
    assert second.progress.snapshot()["queue_position"] == 1
    second.cancel()
    assert second.wait(10)["status"] == "cancelled"
    at_cancel = first.progress.snapshot()["step"]
    first.cancel(keep=True)  # publish what was trained so far
    snap = first.wait(120)
    assert snap["status"] == "cancelled" and snap["model_name"] == "finetuned/legal"
    assert snap["message"].startswith(f"Cancelled after {snap['step']} steps; saved as")
    assert at_cancel <= snap["step"] <= at_cancel + 3
    from albert_demo import AlbertMaskedLM
    from albert_demo.finetune.checkpoints import latest_checkpoint
    checkpoint = latest_checkpoint(first.run_dir / "checkpoints")
    assert checkpoint.name == f"step-{snap['step']:06d}"
    AlbertMaskedLM.from_preset(str(checkpoint))
    assert FinetunedRegistry(tmp_path).names("bob") == []


@pytest.mark.parametrize("change, message", [
    (dict(steps=0), "Steps must be between 1 and"),
    (dict(steps=10**6), "this server's limit"),
    (dict(learning_rate=0), "learning rate"),
    (dict(mask_rate=0.9), "masking rate"),
    (dict(name="../escape"), "is not allowed"),
    (dict(validation_share=0.9), "validation share"),
])
def test_settings_are_checked(change, message):
    with pytest.raises(FinetuneDataError, match=message):
        FinetuneSettings(**change).checked()


def test_a_cancelled_run_publishes_nothing_unless_asked(tiny_preset, tmp_path):
    from albert_demo.finetune.manifest import read_run
    job = FinetuneJob(fast_settings(tiny_preset, steps=2000, checkpoint_every=1),
                      domain_sentences(64), "carol", tmp_path, queue=TrainingQueue(1)).start()
    deadline = time.time() + 120
    while not list((job.run_dir / "checkpoints").glob("step-*")):
        assert time.time() < deadline and job.running, job.progress.snapshot()
        time.sleep(0.05)
    job.cancel()
    snap = job.wait(120)
    assert snap["status"] == "cancelled" and snap["model_name"] is None
    assert snap["zip_path"] is None and snap["after"] is None
    assert "nothing was saved" in snap["message"] and "keep what was trained" in snap[
        "message"]
    assert FinetunedRegistry(tmp_path).names("carol") == []
    assert not (job.run_dir / "checkpoints").exists()  # no 46 MB left behind either
    assert not list(job.run_dir.glob("*.zip"))
    assert read_run(job.run_dir)["status"] == "cancelled"  # not offered for resuming


def test_step_counts_read_as_english():
    from albert_demo.finetune.job import steps_text
    assert steps_text(1) == "1 step" and steps_text(2) == "2 steps"


def test_a_diverging_run_is_stopped_with_a_clear_message(tiny_preset, tmp_path):
    job = FinetuneJob(fast_settings(tiny_preset, steps=400, learning_rate=1.0,
                                    checkpoint_every=5),
                      domain_sentences(200), "dave", tmp_path, queue=TrainingQueue(1))
    snap = job.start().wait(timeout=300)
    assert snap["status"] == "failed", snap["message"]
    assert "diverged" in snap["error"] and "Lower the learning rate" in snap["error"]
    assert snap["step"] < 400
    assert FinetunedRegistry(tmp_path).names("dave") == []
    assert not (job.run_dir / "checkpoints").exists()


@pytest.mark.parametrize("losses, stops", [
    ([3.0] * 60, False),                                  # flat
    ([9.0 - 0.1 * i for i in range(60)], False),          # learning
    ([3.0 + (1.5 if i % 2 else -1.5) for i in range(60)], False),  # noisy, not rising
    ([3.0] * 20 + [3.0 + 0.2 * i for i in range(40)], True),        # rising steadily
    ([3.0] * 5 + [float("nan")], True),
    ([3.0] * 5 + [float("inf")], True),
])
def test_divergence_watch(losses, stops):
    from albert_demo.finetune.training import DivergenceWatch
    watch = DivergenceWatch()
    said = [watch.add(loss) for loss in losses]
    assert any(said) == stops, said
    if stops:
        assert "loss" in next(s for s in said if s)


def test_divergence_counts_from_the_base_model_score():
    """A loss that jumps above the base model's validation loss within the first steps
    (before any window of its own) still counts as rising."""
    from albert_demo.finetune.training import DivergenceWatch
    watch = DivergenceWatch(reference=3.0)
    said = [watch.add(6.5) for _ in range(20)]
    assert said[-1] and "from 3.00 to 6.50" in said[-1]
    # A training sample somewhat harder than the validation split is not divergence.
    calm = DivergenceWatch(reference=3.0)
    assert not any(calm.add(4.5) for _ in range(60))


def test_small_validation_splits_are_called_out(finished):
    _, snap, _, _ = finished
    masks = snap["before"]["masks"]
    if masks < 50:
        assert any(f"only {masks} masked tokens" in note for note in snap["notes"])
    else:
        assert snap["notes"] == []


def test_a_finished_runs_clock_stops(monkeypatch):
    """/finetune_status kept counting elapsed_s after "done" (241 s, then 309 s over later
    polls, in the hostile pass)."""
    from albert_demo.finetune import progress as progress_module
    now = [1000.0]
    monkeypatch.setattr(progress_module.time, "time", lambda: now[0])
    progress = progress_module.FinetuneProgress()
    now[0] += 5
    assert progress.snapshot()["elapsed_s"] == 5  # running: the clock runs
    now[0] += 10
    progress.update(status="done")
    now[0] += 60
    assert progress.snapshot()["elapsed_s"] == 15
