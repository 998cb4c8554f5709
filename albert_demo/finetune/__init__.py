"""Fine-tuning: uploads -> passages, a background training job, owner-scoped presets.

One job per module: `data` (uploads, no keras/jax), `settings` (what a person chooses),
`memory` (the peak-memory estimate and budget), `queue` (how many train at once),
`progress` (a run's live state), `manifest` (a run's files on disk), `checkpoints`,
`probes`, `training` (batches and the per-step monitor), `job` (one run, in a thread),
`isolation` (or in its own process), `registry` (published models, per owner), `service`
(what the tab calls). Everything is imported lazily on first use.
"""

import importlib

_EXPORTS = {
    "FinetuneDataError": "albert_demo.finetune.data",
    "Upload": "albert_demo.finetune.data",
    "read_upload": "albert_demo.finetune.data",
    "preview": "albert_demo.finetune.data",
    "split_passages": "albert_demo.finetune.data",
    "FinetunedRegistry": "albert_demo.finetune.registry",
    "FinetuneSettings": "albert_demo.finetune.settings",
    "FinetuneJob": "albert_demo.finetune.job",
    "FinetuneProgress": "albert_demo.finetune.progress",
    "TrainingQueue": "albert_demo.finetune.queue",
    "FinetuneService": "albert_demo.finetune.service",
    "FinetuneMemoryError": "albert_demo.finetune.memory",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'albert_demo.finetune' has no attribute {name!r}")
