"""Fine-tuning: uploads -> passages, a background training job, owner-scoped presets.

`data` has no keras/jax imports; the rest is imported lazily on first use.
"""

import importlib

_EXPORTS = {
    "FinetuneDataError": "albert_demo.finetune.data",
    "Upload": "albert_demo.finetune.data",
    "read_upload": "albert_demo.finetune.data",
    "preview": "albert_demo.finetune.data",
    "split_passages": "albert_demo.finetune.data",
    "FinetunedRegistry": "albert_demo.finetune.registry",
    "FinetuneSettings": "albert_demo.finetune.job",
    "FinetuneJob": "albert_demo.finetune.job",
    "FinetuneProgress": "albert_demo.finetune.job",
    "TrainingQueue": "albert_demo.finetune.job",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'albert_demo.finetune' has no attribute {name!r}")
