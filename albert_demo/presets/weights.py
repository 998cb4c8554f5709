"""Canonical weight names of our model, and strict assignment from a checkpoint.

The model names its variables (`AlbertBackbone.weights_by_name`,
`AlbertMaskedLM.head_weights_by_name`); every format maps to these names explicitly;
`assign_strict` fails loudly on a missing, leftover or mis-shaped weight instead of
trusting creation order.
"""

import numpy as np

from albert_demo.errors import UserError


class CheckpointError(UserError, ValueError):
    """A checkpoint does not fit the model; the message lists what is wrong."""


LAYER_PARTS = ["query_kernel", "query_bias", "key_kernel", "key_bias", "value_kernel",
               "value_bias", "output_kernel", "output_bias", "attention_ln_gamma",
               "attention_ln_beta", "ffn_kernel", "ffn_bias", "ffn_output_kernel",
               "ffn_output_bias", "ffn_ln_gamma", "ffn_ln_beta"]


def assign_strict(variables, arrays, source):
    """Assign `arrays[name]` to `variables[name]` for every name, or raise on any mismatch.

    A value of None means the format knowingly lacks that weight: it keeps its init.
    """
    missing = sorted(set(variables) - set(arrays))
    leftover = sorted(set(arrays) - set(variables))
    wrong = [f"{n}: checkpoint {tuple(np.shape(arrays[n]))} vs model "
             f"{tuple(variables[n].shape)}"
             for n in sorted(set(variables) & set(arrays))
             if arrays[n] is not None and tuple(np.shape(arrays[n])) != tuple(variables[n].shape)]
    problems = []
    if missing:
        problems.append(f"missing weights: {', '.join(missing[:8])}"
                        + (f" (+{len(missing) - 8} more)" if len(missing) > 8 else ""))
    if leftover:
        problems.append(f"unused weights: {', '.join(leftover[:8])}"
                        + (f" (+{len(leftover) - 8} more)" if len(leftover) > 8 else ""))
    if wrong:
        problems.append("shape mismatch: " + "; ".join(wrong[:8]))
    if problems:
        raise CheckpointError(f"Checkpoint {source} does not match the model: "
                              + " | ".join(problems))
    for name, variable in variables.items():
        if arrays[name] is not None:
            variable.assign(np.asarray(arrays[name], dtype=variable.dtype))
