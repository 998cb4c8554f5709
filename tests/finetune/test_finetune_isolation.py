"""Fine-tuning in its own process (isolation="process", the server's setting): the same
outcome as in a thread, at nice 19, cancellable, and a killed run fails alone."""

import os
import signal
import time

import pytest

from albert_demo.finetune import FinetuneJob
from albert_demo.finetune.isolation import SPAWN, SharedActivity, exit_text
from albert_demo.finetune.manifest import read_run
from finetune_helpers import domain_sentences, fast_settings


def niceness(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[16])


def wait_for_step(job, step, timeout=180):
    deadline = time.monotonic() + timeout
    while job.progress.snapshot()["step"] < step:
        assert job.running and time.monotonic() < deadline, job.progress.snapshot()
        time.sleep(0.05)


def test_a_run_in_its_own_process_finishes_and_publishes(tiny_preset, tmp_path):
    job = FinetuneJob(fast_settings(tiny_preset, steps=12), domain_sentences(64), "alice",
                      tmp_path, isolation="process").start()
    snap = job.wait(300)
    assert snap["status"] == "done", snap
    assert job.process.pid != os.getpid() and job.process.exitcode == 0
    assert [step for step, _ in snap["history"]] == list(range(1, 13))
    assert snap["before"]["masks"] > 0 and snap["after"]["loss"] < snap["before"]["loss"]
    assert snap["model_name"] == "finetuned/legal" and os.path.isdir(snap["preset_dir"])
    assert read_run(job.run_dir)["status"] == "done"


def test_the_process_runs_at_nice_19_and_obeys_cancel_with_keep(tiny_preset, tmp_path):
    job = FinetuneJob(fast_settings(tiny_preset, steps=2000, checkpoint_every=1),
                      domain_sentences(64), "alice", tmp_path, isolation="process").start()
    wait_for_step(job, 2)
    assert niceness(job.process.pid) == 19
    job.cancel(keep=True)
    snap = job.wait(120)
    assert snap["status"] == "cancelled" and snap["model_name"] == "finetuned/legal", snap
    assert snap["step"] < 2000


def test_a_killed_training_process_fails_its_run_with_a_reason(tiny_preset, tmp_path):
    job = FinetuneJob(fast_settings(tiny_preset, steps=2000), domain_sentences(64), "alice",
                      tmp_path, isolation="process").start()
    wait_for_step(job, 1)
    os.kill(job.process.pid, signal.SIGKILL)  # what the kernel's OOM killer does
    snap = job.wait(60)
    assert snap["status"] == "failed" and "ran out of memory" in snap["error"], snap
    assert read_run(job.run_dir)["status"] == "failed"
    assert not job.running


def test_the_child_sees_the_servers_last_request():
    shared = SPAWN.Value("d", float("-inf"), lock=False)
    activity = SharedActivity(shared)
    assert not activity.busy()
    shared.value = time.monotonic()
    assert activity.busy() and not activity.busy(within=0.0)


@pytest.mark.parametrize("code, words", [(-9, "ran out of memory"), (-11, "SIGSEGV"),
                                         (3, "code 3")])
def test_exit_reasons_read_as_english(code, words):
    assert words in exit_text(code)


def test_isolation_must_be_named():
    with pytest.raises(ValueError, match="isolation"):
        FinetuneJob(fast_settings("x"), ["a b c"], "o", "/tmp", isolation="fork")


def test_the_child_can_read_its_orders_without_importing_keras(tiny_preset, tmp_path):
    """The spec is unpickled in the child before it lowers its priority: it must hold
    plain data only (a class or a settings object would import keras and JAX at nice 0)."""
    import io
    import pickle

    from albert_demo.finetune.isolation import child_spec
    allowed = {"builtins", "pathlib", "albert_demo.settings", "copyreg", "collections"}

    class PlainOnly(pickle.Unpickler):
        def find_class(self, module, name):
            assert module in allowed, f"{module}.{name} in the child's spec"
            return super().find_class(module, name)

    job = FinetuneJob(fast_settings(tiny_preset), domain_sentences(8), "alice", tmp_path)
    spec = PlainOnly(io.BytesIO(pickle.dumps(child_spec(job)))).load()
    assert spec["job_class"] == "albert_demo.finetune.job:FinetuneJob"
    assert spec["settings"]["base_preset"] == tiny_preset
