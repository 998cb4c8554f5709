"""Canonical weight names of our model, and strict assignment from a checkpoint.

Every format maps to these names explicitly; `assign_strict` fails loudly on a missing,
leftover or mis-shaped weight instead of trusting creation order.
"""

import numpy as np

from albert_demo.errors import UserError


class CheckpointError(UserError, ValueError):
    """A checkpoint does not fit the model; the message lists what is wrong."""


LAYER_PARTS = ["query_kernel", "query_bias", "key_kernel", "key_bias", "value_kernel",
               "value_bias", "output_kernel", "output_bias", "attention_ln_gamma",
               "attention_ln_beta", "ffn_kernel", "ffn_bias", "ffn_output_kernel",
               "ffn_output_bias", "ffn_ln_gamma", "ffn_ln_beta"]


def backbone_variables(backbone):
    e = backbone.embeddings
    names = {
        "embeddings/token": e.token_embeddings,
        "embeddings/position": e.position_embeddings,
        "embeddings/segment": e.segment_embeddings,
        "embeddings/ln_gamma": e.layer_norm.gamma,
        "embeddings/ln_beta": e.layer_norm.beta,
        "embeddings/projection_kernel": e.projection.kernel,
        "embeddings/projection_bias": e.projection.bias,
        "pooler/kernel": backbone.pooler.kernel,
        "pooler/bias": backbone.pooler.bias,
    }
    for k, layer in enumerate(backbone.transformer_layers):
        parts = [layer.query_kernel, layer.query_bias, layer.key_kernel, layer.key_bias,
                 layer.value_kernel, layer.value_bias, layer.output_kernel, layer.output_bias,
                 layer.attention_layer_norm.gamma, layer.attention_layer_norm.beta,
                 layer.ffn_intermediate.kernel, layer.ffn_intermediate.bias,
                 layer.ffn_output.kernel, layer.ffn_output.bias,
                 layer.ffn_layer_norm.gamma, layer.ffn_layer_norm.beta]
        names.update({f"layer_{k}/{p}": v for p, v in zip(LAYER_PARTS, parts)})
    return names


def head_variables(masked_lm):
    h = masked_lm.masked_lm_head
    return {"head/dense_kernel": h.dense.kernel, "head/dense_bias": h.dense.bias,
            "head/ln_gamma": h.layer_norm.gamma, "head/ln_beta": h.layer_norm.beta,
            "head/output_bias": h.output_bias}


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
