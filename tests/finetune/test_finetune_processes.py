"""Tests that need their own process: two forced host devices (data parallelism) and a
kill -9 in the middle of training (atomic checkpoints)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DATA_PARALLEL_SCRIPT = """
import json, sys
import jax
from albert_demo.finetune import FinetuneJob
sys.path.insert(0, {here!r})
from finetune_helpers import domain_sentences, fast_settings
out = {{"devices": len(jax.devices())}}
for parallel in (False, True):
    settings = fast_settings({preset!r}, name=f"dp{{int(parallel)}}", steps=4,
                             data_parallel=parallel)
    snap = FinetuneJob(settings, domain_sentences(64), "o", {data!r}).start().wait()
    assert snap["status"] == "done", snap
    out[str(parallel)] = dict(history=snap["history"], after=snap["after"]["loss"],
                              data_parallel=snap["data_parallel"])
print("RESULT", json.dumps(out))
"""

KILL_SCRIPT = """
import sys
from albert_demo.finetune import FinetuneJob
sys.path.insert(0, {here!r})
from finetune_helpers import domain_sentences, fast_settings
settings = fast_settings({preset!r}, steps=2000, checkpoint_every=1)
FinetuneJob(settings, domain_sentences(64), "mallory", {data!r}).start().wait()
"""


def run_python(code, env=None, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu", **(env or {})}
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            **kwargs)


def test_two_devices_give_the_same_loss_as_one(tiny_preset, tmp_path):
    code = DATA_PARALLEL_SCRIPT.format(here=str(Path(__file__).parent), preset=tiny_preset,
                                       data=str(tmp_path))
    proc = run_python(code, env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output[-3000:]
    result = json.loads(output.split("RESULT", 1)[1])
    assert result["devices"] == 2
    single, parallel = result["False"], result["True"]
    assert not single["data_parallel"] and parallel["data_parallel"]
    for (step, a), (_, b) in zip(single["history"], parallel["history"]):
        assert abs(a - b) < 1e-4, (step, a, b)
    assert abs(single["after"] - parallel["after"]) < 1e-4


def test_kill_9_leaves_a_loadable_checkpoint_and_nothing_half_written(tiny_preset, tmp_path):
    code = KILL_SCRIPT.format(here=str(Path(__file__).parent), preset=tiny_preset,
                              data=str(tmp_path))
    proc = run_python(code, start_new_session=True)
    try:
        deadline = time.time() + 180
        while not list(tmp_path.glob("finetune_runs/*/*/checkpoints/step-*")):
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            assert time.time() < deadline, "no checkpoint appeared"
            time.sleep(0.05)
        time.sleep(1.5)  # several more checkpoints: the kill lands in or between writes
        assert proc.poll() is None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    from albert_demo import AlbertMaskedLM
    from albert_demo.finetune import FinetunedRegistry
    from albert_demo.finetune.checkpoints import latest_checkpoint
    (checkpoints,) = tmp_path.glob("finetune_runs/*/*/checkpoints")
    visible = [p for p in checkpoints.iterdir() if not p.name.startswith(".")]
    assert visible and all((p / "config.json").is_file() for p in visible)
    for folder in visible:  # every visible folder is a complete preset
        AlbertMaskedLM.from_preset(str(folder))
    assert latest_checkpoint(checkpoints) in visible
    assert FinetunedRegistry(tmp_path).names("mallory") == []  # nothing was published


RESUME_SCRIPT = """
import sys
from albert_demo.finetune import FinetuneJob
sys.path.insert(0, {here!r})
from finetune_helpers import domain_sentences, fast_settings
settings = fast_settings({preset!r}, name="interrupted", steps=200, checkpoint_every=5,
                         probes=("the court [MASK] the motion.",))
FinetuneJob(settings, domain_sentences(200), "rita", {data!r}).start().wait()
"""


def test_a_run_killed_by_a_restart_is_shown_and_resumes_from_its_checkpoint(tiny_preset,
                                                                            tmp_path):
    from albert_demo.finetune import FinetunedRegistry
    from albert_demo.finetune.manifest import read_run
    from albert_demo.finetune.queue import TrainingQueue
    from albert_demo.finetune.service import FinetuneService
    code = RESUME_SCRIPT.format(here=str(Path(__file__).parent), preset=tiny_preset,
                                data=str(tmp_path))
    proc = run_python(code, start_new_session=True)
    try:
        deadline = time.time() + 180
        while not [p for p in tmp_path.glob("finetune_runs/*/*/checkpoints/step-*")
                   if int(p.name[5:]) >= 10]:
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            assert time.time() < deadline, "no checkpoint appeared"
            time.sleep(0.05)
    finally:  # the "restart": the process dies mid-training
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()

    service = FinetuneService(tmp_path, queue=TrainingQueue(1))  # the restarted server
    state = service.status("rita")
    assert state["status"] == "interrupted" and state["resumable"], state
    assert 10 <= state["step"] < 200 and state["total_steps"] == 200
    assert "interrupted by a server restart" in state["message"]
    assert service.status("someone-else")["status"] == "idle"  # owners stay apart

    resumed_from = state["step"]
    service.resume("rita")
    final = service.wait("rita", timeout=300)
    assert final["status"] == "done", final.get("message")
    assert final["step"] == 200 and final["model_name"] == "finetuned/interrupted"
    assert final["history"][0][0] == resumed_from + 1  # steps go on, not from 1
    assert final["after"]["loss"] < final["before"]["loss"]  # before: the base model's
    assert final["probes"] and final["probes"][0]["base"]["masks"]
    assert FinetunedRegistry(tmp_path).names("rita") == ["finetuned/interrupted"]
    (run_dir,) = tmp_path.glob("finetune_runs/*/*")
    assert read_run(run_dir)["status"] == "done"
    assert FinetuneService(tmp_path).status("rita")["status"] == "idle"  # nothing left
    with pytest.raises(Exception, match="no interrupted training"):
        service.resume("rita")
