"""A fine-tuning run in its own process, at the lowest CPU priority.

Inside the server, a training step and a prediction share XLA's one CPU thread pool: a
prediction that arrives during a step waits for the step's work queued ahead of it (up to
seconds at batch 32 × 512), whatever the training thread's nice value. In a process of
its own at nice 19, the kernel runs the server's threads first within a scheduler tick,
and a run that exhausts memory is killed alone, not with every user's session.

The server keeps the `FinetuneJob` (queue, progress, cancel); the child runs
`job.execute()` on a copy built from the same arguments and sends its progress back over a
pipe. Cancel and keep are shared flags; the server's last-request time is copied into a
shared float every `POLL_SECONDS`, so the child still yields to serving between steps.

    job = FinetuneJob(settings, passages, owner, data_dir, isolation="process").start()
"""

import ctypes
import dataclasses
import importlib
import logging
import multiprocessing
import os
import signal
import time

from albert_demo import settings as app_settings
from albert_demo.finetune.manifest import mark_run
from albert_demo.finetune.progress import FINISHED, FinetuneProgress

log = logging.getLogger("albert_demo.finetune")

# "spawn": a fresh interpreter (a forked JAX runtime is not safe to use); its Event and
# Value also serve a job that trains in a thread.
SPAWN = multiprocessing.get_context("spawn")

POLL_SECONDS = 0.1
# A cancelled run stops within a step; one that has not ended this long after is killed.
CANCEL_GRACE_SECONDS = 120


class SharedActivity:
    """The server's `ServingActivity` as the training process sees it."""

    def __init__(self, last_request):
        self._last_request = last_request  # a shared double, CLOCK_MONOTONIC seconds

    def busy(self, within=1.0):
        return time.monotonic() - self._last_request.value < within


class ForwardingProgress(FinetuneProgress):
    """Progress in the training process that also sends every change to the server."""

    def __init__(self, connection):
        super().__init__()
        self._connection = connection

    def update(self, **changes):
        super().update(**changes)
        self._connection.send(("update", changes))

    def add_point(self, step, loss):
        super().add_point(step, loss)
        self._connection.send(("point", step, loss))


def exit_text(code):
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        if -code == signal.SIGKILL:
            return (f"the training process was killed ({name}), most often because the "
                    "machine ran out of memory; try a smaller batch or sequence length")
        return f"the training process ended on {name}"
    return f"the training process exited with code {code} without a result"


def child_spec(job):
    """What the training process needs to rebuild `job`, as plain data.

    Plain data only: unpickling a class or a settings object in the child would import
    keras and JAX there before it has lowered its priority (seconds of CPU at the server's
    priority: most of what a starting fine-tune cost the other users)."""
    import jax
    job_class = type(job)
    return {"job_class": f"{job_class.__module__}:{job_class.__qualname__}",
            "settings": dataclasses.asdict(job.settings), "passages": job.passages,
            "owner": job.owner, "data_dir": job.data_dir, "run_id": job.id,
            "resume_from": job.resume_from, "resumed": job.resumed,
            "app_settings": app_settings.current(),
            "compilation_cache": jax.config.jax_compilation_cache_dir}


def run_in_process(job):
    """Run `job` in a child process; returns when it has ended. Its outcome is in
    `job.progress`, as if it had run in this thread."""
    receive, send = SPAWN.Pipe(duplex=False)
    last_request = SPAWN.Value("d", float("-inf"), lock=False)  # one writer: this loop
    spec = child_spec(job)
    process = SPAWN.Process(target=_child_main, name=f"finetune-{job.id}", daemon=True,
                            args=(spec, send, job._cancel, job._keep_flag, last_request))
    process.start()
    send.close()  # the child holds the only writer: its exit ends the pipe
    job.process = process
    cancelled_at = None
    try:
        while True:
            if job.serving is not None:
                last_request.value = job.serving.last_request
            if job.cancelled and cancelled_at is None:
                cancelled_at = time.monotonic()
            if cancelled_at and time.monotonic() - cancelled_at > CANCEL_GRACE_SECONDS:
                process.kill()
            if not receive.poll(POLL_SECONDS):
                continue
            try:
                kind, *payload = receive.recv()
            except EOFError:
                break
            if kind == "update":
                job.progress.update(**payload[0])
            elif kind == "point":
                job.progress.add_point(*payload)
    finally:
        receive.close()
        process.join()
    if job.progress.snapshot()["status"] not in FINISHED:  # died before reporting an end
        message = exit_text(process.exitcode)
        log.error("fine-tuning %s: %s", job.id, message)
        job.progress.update(status="failed", error=message,
                            message=f"Training failed: {message[0].upper()}{message[1:]}.")
        mark_run(job.run_dir, "failed")


def _die_with_parent():
    """Linux: the kernel kills this process when the server exits, even by kill -9."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child_main(spec, connection, cancel, keep, last_request):
    _die_with_parent()
    os.nice(19)  # before any heavy import and before JAX starts its threads
    app_settings.use(spec["app_settings"])
    from albert_demo.finetune.settings import FinetuneSettings
    module, name = spec["job_class"].split(":")
    job_class = getattr(importlib.import_module(module), name)
    if spec["compilation_cache"]:  # the server's compiled programs, shared on disk
        from albert_demo.engine import configure_compilation_cache
        configure_compilation_cache(spec["compilation_cache"])
    job = job_class(
        FinetuneSettings(**spec["settings"]), spec["passages"], spec["owner"], spec["data_dir"],
        serving=SharedActivity(last_request), run_id=spec["run_id"],
        resume_from=spec["resume_from"], resumed=spec["resumed"], signals=(cancel, keep))
    job.progress = ForwardingProgress(connection)
    try:
        job.execute()
    finally:
        connection.close()
