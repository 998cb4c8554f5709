"""Read Hugging Face ALBERT checkpoints: config.json + model.safetensors + spiece.model.

Never unpickles: `pytorch_model.bin` and friends are refused. Dense kernels are stored
(out, in) by torch and are transposed; attention kernels are reshaped to keras-hub's
(hidden, heads, head_dim).
"""

import json
from pathlib import Path

import numpy as np

from albert_demo.presets.weights import CheckpointError

PICKLES = ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "model.ckpt.index")
# Buffers and heads we knowingly do not use.
IGNORED = ("embeddings.position_ids", "sop_classifier.", "classifier.", "qa_outputs.")


def read_hf_config(folder):
    with open(Path(folder) / "config.json") as f:
        config = json.load(f)
    if config.get("model_type") != "albert":
        raise CheckpointError(f"{folder}/config.json is model_type "
                              f"{config.get('model_type')!r}, not 'albert'.")
    act = config.get("hidden_act", "gelu_new")
    if act not in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        raise CheckpointError(f"{folder}: hidden_act {act!r} is not supported (ALBERT uses "
                              "the tanh-approximated GELU, 'gelu_new').")
    return config


def backbone_config_from_hf(config):
    return {
        "vocabulary_size": config["vocab_size"],
        "num_layers": config["num_hidden_layers"],
        "num_heads": config["num_attention_heads"],
        "num_groups": config.get("num_hidden_groups", 1),
        "num_inner_repetitions": config.get("inner_group_num", 1),
        "embedding_dim": config["embedding_size"],
        "hidden_dim": config["hidden_size"],
        "intermediate_dim": config["intermediate_size"],
        "dropout": 0.0,
        "max_sequence_length": config.get("max_position_embeddings", 512),
        "num_segments": config.get("type_vocab_size", 2),
    }


def read_safetensors(folder):
    folder = Path(folder)
    files = sorted(folder.glob("model*.safetensors"))
    if not files:
        pickles = [p for p in PICKLES if (folder / p).exists()]
        if pickles:
            raise CheckpointError(
                f"{folder} holds only {', '.join(pickles)}: pickled checkpoints are refused "
                "because loading them can run arbitrary code. Convert to safetensors "
                "(model.safetensors) first.")
        raise CheckpointError(f"{folder}: model.safetensors is missing.")
    from safetensors.numpy import load_file
    tensors = {}
    for file in files:
        try:
            tensors.update(load_file(str(file)))
        except Exception as error:
            raise CheckpointError(f"Cannot read {file}: {error}") from error
    return tensors


def convert_hf_weights(tensors, backbone_config, num_heads):
    """HF tensor dict -> (backbone arrays, head arrays or None), all by canonical name."""
    t = {k.removeprefix("albert."): v for k, v in tensors.items()}
    used = set()

    def take(key):
        if key not in t:
            raise CheckpointError(f"HF checkpoint is missing {key!r}.")
        used.add(key)
        return np.asarray(t[key], dtype="float32")

    h = backbone_config["hidden_dim"]
    d = h // num_heads
    out = {
        "embeddings/token": take("embeddings.word_embeddings.weight"),
        "embeddings/position": take("embeddings.position_embeddings.weight"),
        "embeddings/segment": take("embeddings.token_type_embeddings.weight"),
        "embeddings/ln_gamma": take("embeddings.LayerNorm.weight"),
        "embeddings/ln_beta": take("embeddings.LayerNorm.bias"),
        "embeddings/projection_kernel": take("encoder.embedding_hidden_mapping_in.weight").T,
        "embeddings/projection_bias": take("encoder.embedding_hidden_mapping_in.bias"),
    }
    # AlbertForMaskedLM checkpoints have no pooler (MLM does not use it): None keeps the
    # freshly initialised pooler.
    has_pooler = "pooler.weight" in t
    out["pooler/kernel"] = take("pooler.weight").T if has_pooler else None
    out["pooler/bias"] = take("pooler.bias") if has_pooler else None
    inner = backbone_config["num_inner_repetitions"]
    for g in range(backbone_config["num_groups"]):
        for i in range(inner):
            p = f"encoder.albert_layer_groups.{g}.albert_layers.{i}."
            k = f"layer_{g * inner + i}/"
            for name in ("query", "key", "value"):
                out[k + f"{name}_kernel"] = take(p + f"attention.{name}.weight").T.reshape(
                    h, num_heads, d)
                out[k + f"{name}_bias"] = take(p + f"attention.{name}.bias").reshape(
                    num_heads, d)
            out[k + "output_kernel"] = take(p + "attention.dense.weight").T.reshape(
                num_heads, d, h)
            out[k + "output_bias"] = take(p + "attention.dense.bias")
            out[k + "attention_ln_gamma"] = take(p + "attention.LayerNorm.weight")
            out[k + "attention_ln_beta"] = take(p + "attention.LayerNorm.bias")
            out[k + "ffn_kernel"] = take(p + "ffn.weight").T
            out[k + "ffn_bias"] = take(p + "ffn.bias")
            out[k + "ffn_output_kernel"] = take(p + "ffn_output.weight").T
            out[k + "ffn_output_bias"] = take(p + "ffn_output.bias")
            out[k + "ffn_ln_gamma"] = take(p + "full_layer_layer_norm.weight")
            out[k + "ffn_ln_beta"] = take(p + "full_layer_layer_norm.bias")
    head = None
    if "predictions.dense.weight" in t:
        head = {
            "head/dense_kernel": take("predictions.dense.weight").T,
            "head/dense_bias": take("predictions.dense.bias"),
            "head/ln_gamma": take("predictions.LayerNorm.weight"),
            "head/ln_beta": take("predictions.LayerNorm.bias"),
            "head/output_bias": take("predictions.bias"),
        }
        # The decoder is tied to the word embeddings; check rather than trust.
        if "predictions.decoder.weight" in t:
            used.add("predictions.decoder.weight")
            if not np.allclose(t["predictions.decoder.weight"], out["embeddings/token"]):
                raise CheckpointError("predictions.decoder.weight is not tied to the word "
                                      "embeddings; untied decoders are not supported.")
        if "predictions.decoder.bias" in t:
            used.add("predictions.decoder.bias")
            if not np.allclose(t["predictions.decoder.bias"], head["head/output_bias"]):
                raise CheckpointError("predictions.decoder.bias differs from "
                                      "predictions.bias.")
    leftover = sorted(k for k in t if k not in used and not k.startswith(IGNORED))
    if leftover:
        raise CheckpointError("HF checkpoint has weights the model does not use: "
                              + ", ".join(leftover[:8]))
    return out, head
