"""How much memory a fine-tuning run will take, estimated from the model's config before
the run starts, and the check that refuses settings over the server's budget.

The estimate adds up, in float32 bytes:
- weights, their gradients and Adam's two moments (4 copies of the parameters) plus one
  more copy while the step writes the new values;
- activations kept for the backward pass, per applied layer and per token: the hidden
  states, Q/K/V, the feed-forward's intermediate values and the attention scores and
  probabilities (these grow with the sequence length, so the cost per token does too);
- the masked-LM head's logits over the vocabulary at the masked positions;
- a fixed allowance for compiling the training step and the run's other buffers;
then multiplies by a safety margin of 1.25. The copy counts are what the backward pass
keeps in theory; against peak RSS measured on this project's machine (a whole run in a fresh
process, `python benchmarks/finetune_memory.py`, benchmarks/results/finetune-memory-cpu.json)
the estimate before the margin is 0.90-1.09x the measured figure on the embedded preset
(batch 8 x 64 up to 8 x 512: 0.8-2.7 GB) and 1.02-1.33x on a 2-layer hidden-32 model, so
with the margin it is above every measured run (1.13-1.66x). Batch 32 x 512 on the embedded
preset: about 12.5 GB with the margin (10.0 GB without; 10.3 GB peak RSS was seen).

Example:
```python
estimate = estimate_memory(config, batch_size=32, sequence_length=512)
estimate.total                          # bytes, margin included
check_memory(settings, config)          # raises FinetuneMemoryError when over budget
```
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path

from albert_demo import settings as server_settings
from albert_demo.finetune.data import FinetuneDataError

FLOAT = 4  # bytes
# Activation floats kept per applied layer and token: a * hidden + b * intermediate
# + c * heads * sequence length (scores, probabilities, their gradients).
HIDDEN_COPIES, INTERMEDIATE_COPIES, ATTENTION_COPIES = 10, 4, 4
HEAD_COPIES = 4            # logits, probabilities and their gradients at masked positions
PARAMETER_COPIES = 5       # weights, gradients, Adam m and v, the step's new weights
FIXED_BYTES = 300 * 2**20  # compiling the step, the run's own small buffers
MARGIN = 1.25


class FinetuneMemoryError(FinetuneDataError):
    """The chosen settings would need more memory than this server allows one run."""


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs from an ALBERT config (keras-hub or Hugging Face names)."""
    vocabulary_size: int
    num_layers: int
    num_heads: int
    embedding_dim: int
    hidden_dim: int
    intermediate_dim: int
    num_groups: int = 1
    num_inner_repetitions: int = 1
    max_sequence_length: int = 512
    num_segments: int = 2

    HF_NAMES = {"vocab_size": "vocabulary_size", "num_hidden_layers": "num_layers",
                "num_attention_heads": "num_heads", "embedding_size": "embedding_dim",
                "hidden_size": "hidden_dim", "intermediate_size": "intermediate_dim",
                "num_hidden_groups": "num_groups", "inner_group_num": "num_inner_repetitions",
                "max_position_embeddings": "max_sequence_length",
                "type_vocab_size": "num_segments"}

    @classmethod
    def from_config(cls, config):
        """A backbone config dict (keras-hub: possibly wrapped in {"config": ...}; or HF)."""
        config = config.get("config", config)
        names = {cls.HF_NAMES.get(k, k): v for k, v in config.items()}
        fields = cls.__dataclass_fields__
        return cls(**{k: int(v) for k, v in names.items() if k in fields})

    @property
    def parameters(self):
        """ALBERT's parameter count (embeddings, projection, shared layers, pooler, head)."""
        v, e, h, i = (self.vocabulary_size, self.embedding_dim, self.hidden_dim,
                      self.intermediate_dim)
        embeddings = (v + self.max_sequence_length + self.num_segments + 2) * e
        layer = 4 * (h * h + h) + (h * i + i) + (i * h + h) + 4 * h
        layers = self.num_groups * self.num_inner_repetitions * layer
        head = e * h + e + 2 * e + v
        return embeddings + (e * h + h) + layers + (h * h + h) + head

    @property
    def applied_layers(self):
        return self.num_layers * self.num_inner_repetitions


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int        # bytes: parameters, gradients, optimizer state
    activations: int
    head: int
    fixed: int
    margin: float = MARGIN

    @property
    def total(self):
        return int(self.margin * (self.weights + self.activations + self.head + self.fixed))

    def parts_mb(self):
        return {k: round(getattr(self, k) / 2**20, 1) for k in
                ("weights", "activations", "head", "fixed", "total")}


def estimate_memory(config, batch_size, sequence_length, mask_rate=0.15):
    """Peak memory (bytes, margin included) one run adds to the server."""
    shape = config if isinstance(config, ModelShape) else ModelShape.from_config(config)
    tokens = batch_size * sequence_length
    per_token = shape.applied_layers * (
        HIDDEN_COPIES * shape.hidden_dim + INTERMEDIATE_COPIES * shape.intermediate_dim
        + ATTENTION_COPIES * shape.num_heads * sequence_length)
    masked = batch_size * (math.ceil(sequence_length * mask_rate) + 1)
    return MemoryEstimate(
        weights=PARAMETER_COPIES * FLOAT * shape.parameters,
        activations=FLOAT * tokens * per_token,
        head=FLOAT * masked * HEAD_COPIES * shape.vocabulary_size,
        fixed=FIXED_BYTES)


def read_config(preset_folder):
    """The backbone config in a local preset folder (keras-hub or HF layout), or None."""
    try:
        return json.loads((Path(preset_folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def estimate_for_preset(settings, preset_folder):
    return estimate_memory(read_config(preset_folder), settings.batch_size,
                           settings.sequence_length, settings.mask_rate)


def memory_budget():
    """Bytes one fine-tuning run may use (`ALBERT_DEMO_FINETUNE_MEMORY_BYTES`)."""
    return server_settings.current().finetune_memory_bytes


def _gb(n):
    return f"{n / 1e9:.1f} GB"


def check_memory(settings, config, budget=None):
    """Refuse settings whose estimated peak memory is over the budget, with the numbers
    and the largest batch size that would fit at this length."""
    budget = memory_budget() if budget is None else budget
    shape = ModelShape.from_config(config)
    need = estimate_memory(shape, settings.batch_size, settings.sequence_length,
                           settings.mask_rate).total
    if need <= budget:
        return need
    fits = [b for b in range(settings.batch_size - 1, 0, -1) if estimate_memory(
        shape, b, settings.sequence_length, settings.mask_rate).total <= budget]
    if fits:
        advice = (f"lower the batch size (batch {fits[0]} fits at this length) or the "
                  "sequence length.")
    elif estimate_memory(shape, 1, 8, settings.mask_rate).total <= budget:
        advice = "lower the sequence length."
    else:
        advice = "this model is too large to fine-tune here; choose a smaller base preset."
    raise FinetuneMemoryError(
        f"Batch {settings.batch_size} × {settings.sequence_length} tokens needs about "
        f"{_gb(need)} of memory; this server allows {_gb(budget)} for one fine-tuning run "
        f"(ALBERT_DEMO_FINETUNE_MEMORY_BYTES): {advice}")
