"""Attention rollout (Abnar & Zuidema, 2020): how much each token can have reached each
position after every layer, following attention through the residual connections.

Per layer: average the heads, add the identity (the residual path), normalise every row
to sum to 1 (so A = (W + I) / 2 for rows of W that sum to 1), then multiply the layers:
R_1 = A_1, R_l = A_l @ R_{l-1}. Rows are the attending positions, columns the inputs.
"""

import numpy as np


def attention_rollout(attention):
    """attention (layers, heads, T, T), as the engine returns it -> (layers, T, T):
    entry [l] is the rollout through layers 0..l (the last one is the full rollout)."""
    attention = np.asarray(attention, "float64")
    if attention.ndim != 4 or attention.shape[-1] != attention.shape[-2]:
        raise ValueError(f"Expected attention of shape (layers, heads, T, T), "
                         f"got {attention.shape}.")
    size = attention.shape[-1]
    joint = np.eye(size)
    out = []
    for layer in attention:
        mixed = layer.mean(0) + np.eye(size)
        mixed /= mixed.sum(-1, keepdims=True)
        joint = mixed @ joint
        out.append(joint)
    return np.stack(out)
