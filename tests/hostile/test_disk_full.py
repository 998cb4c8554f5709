"""A full disk under the running app: annotations and fine-tuning say so clearly, keep
what was already saved, publish nothing half-written, and work again once space is freed.

The disk is real: a small tmpfs filled to the last byte (skipped where mounting is not
allowed)."""

import sqlite3

import pytest

from albert_demo.annotations import AnnotationError, AnnotationStore
from tests.harness.small_disk import small_disk

PREDS = [{"token": "\u2581door", "token_id": 12, "score": 0.5}]


def record(n):
    return dict(session_id="alice", preset="albert_tiny_en_uncased",
                text=f"She opened the [MASK] number {n}.", mask_index=4, predictions=PREDS)


def test_annotations_on_a_full_disk_fail_clearly_and_lose_nothing(tmp_path):
    with small_disk(tmp_path / "disk", 4) as disk:
        path = disk.path / "annotations.sqlite"
        store = AnnotationStore.sqlite(path)
        saved = [store.add(**record(0)).id]
        disk.fill()
        with pytest.raises(AnnotationError, match="disk is full") as info:
            for n in range(1, 2000):  # pages the WAL already holds may take a few more
                saved.append(store.add(**record(n)).id)
        assert "intact" in str(info.value)
        assert {a.id for a in store.search(session_id="alice", limit=5000)} == set(saved)
        disk.free()
        saved.append(store.add(**record(9999)).id)  # the same store recovers by itself
        store.close()
        reopened = AnnotationStore.sqlite(path)
        assert {a.id for a in reopened.search(session_id="alice", limit=5000)} == set(saved)
        reopened.close()
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def start_job(data_dir, tmp_path, steps):
    from tests.finetune.finetune_helpers import (domain_sentences, fast_settings,
                                                 write_tiny_preset)

    from albert_demo.engine import ModelCache
    from albert_demo.finetune import FinetuneJob, TrainingQueue
    tiny = tmp_path / "tiny"
    if not tiny.exists():
        write_tiny_preset(tiny)
    job = FinetuneJob(fast_settings(str(tiny), steps=steps, checkpoint_every=10),
                      domain_sentences(100), owner="alice", data_dir=data_dir,
                      models=ModelCache(), queue=TrainingQueue(1))
    return job.start()


def assert_nothing_published(data_dir):
    from albert_demo.finetune import FinetunedRegistry
    assert FinetunedRegistry(data_dir).list("alice") == []
    files = [p for p in data_dir.rglob("*") if p.is_file() and p.name != ".filler"]
    assert not [p for p in files if p.suffix == ".zip" or "finetuned" in p.parts], files


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_finetune_on_a_full_disk_is_refused_before_training(tmp_path):
    with small_disk(tmp_path / "disk", 16) as disk:
        disk.fill()
        snapshot = start_job(disk.path, tmp_path, steps=20).wait(timeout=300)
        assert snapshot["status"] == "failed"
        assert "disk is full" in snapshot["message"] and "MB are free" in snapshot["message"]
        assert snapshot.get("step", 0) == 0  # not one training step was spent
        assert_nothing_published(disk.path)


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_disk_filling_up_mid_finetune_fails_clearly_and_publishes_nothing(tmp_path):
    import time
    with small_disk(tmp_path / "disk", 32) as disk:
        job = start_job(disk.path, tmp_path, steps=2000)
        deadline = time.time() + 240
        while job.progress.snapshot().get("status") != "training" and time.time() < deadline:
            time.sleep(0.05)
        disk.fill()  # the next checkpoint (every 10 steps) meets a full disk
        snapshot = job.wait(timeout=300)
        assert snapshot["status"] == "failed", snapshot["message"]
        assert "disk is full" in snapshot["message"], snapshot["message"]
        assert str(disk.path) not in snapshot["message"]  # no server paths for users
        assert_nothing_published(disk.path)
