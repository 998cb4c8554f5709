"""Read and write keras-hub preset folders (config.json + *.weights.h5 + assets).

The `.weights.h5` layout is keras-hub's: groups named by layer class and creation order
(`layers/transformer_encoder_3/...`). We map each to a canonical name explicitly.
"""

import datetime
import json
import os
import shutil
import tempfile
from pathlib import Path

import h5py

from albert_demo.presets.weights import CheckpointError, LAYER_PARTS

VOCAB_PATH = "assets/tokenizer/vocabulary.spm"
ENCODER_PARTS = [  # (keras-hub sub-path, vars index) in LAYER_PARTS order
    ("_self_attention_layer/query_dense", 0), ("_self_attention_layer/query_dense", 1),
    ("_self_attention_layer/key_dense", 0), ("_self_attention_layer/key_dense", 1),
    ("_self_attention_layer/value_dense", 0), ("_self_attention_layer/value_dense", 1),
    ("_self_attention_layer/output_dense", 0), ("_self_attention_layer/output_dense", 1),
    ("_self_attention_layer_norm", 0), ("_self_attention_layer_norm", 1),
    ("_feedforward_intermediate_dense", 0), ("_feedforward_intermediate_dense", 1),
    ("_feedforward_output_dense", 0), ("_feedforward_output_dense", 1),
    ("_feedforward_layer_norm", 0), ("_feedforward_layer_norm", 1),
]
EMBEDDING_PATHS = {
    "embeddings/token": "layers/reversible_embedding/vars/0",
    "embeddings/position": "layers/position_embedding/vars/0",
    "embeddings/segment": "layers/embedding/vars/0",
    "embeddings/ln_gamma": "layers/layer_normalization/vars/0",
    "embeddings/ln_beta": "layers/layer_normalization/vars/1",
    "embeddings/projection_kernel": "layers/dense/vars/0",
    "embeddings/projection_bias": "layers/dense/vars/1",
    "pooler/kernel": "layers/dense_1/vars/0",
    "pooler/bias": "layers/dense_1/vars/1",
}
HEAD_PATHS = {
    "head/dense_kernel": "layers/masked_lm_head/_intermediate_dense/vars/0",
    "head/dense_bias": "layers/masked_lm_head/_intermediate_dense/vars/1",
    "head/ln_gamma": "layers/masked_lm_head/_intermediate_layer_norm/vars/0",
    "head/ln_beta": "layers/masked_lm_head/_intermediate_layer_norm/vars/1",
    "head/output_bias": "layers/masked_lm_head/vars/0",
}


def encoder_group(k):
    return "layers/transformer_encoder" + (f"_{k}" if k else "")


def backbone_paths(num_encoder_layers):
    paths = dict(EMBEDDING_PATHS)
    for k in range(num_encoder_layers):
        for part, (sub, index) in zip(LAYER_PARTS, ENCODER_PARTS):
            paths[f"layer_{k}/{part}"] = f"{encoder_group(k)}/{sub}/vars/{index}"
    return paths


def _datasets(path):
    found = {}
    try:
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: found.__setitem__(name, obj[()])
                         if isinstance(obj, h5py.Dataset) else None)
    except OSError as error:
        raise CheckpointError(f"Cannot read weights file {path}: {error}") from error
    return found


def read_h5(path, paths, ignore_prefixes=()):
    """Read datasets named in `paths` (canonical -> h5 path); leftovers are errors."""
    datasets = _datasets(path)
    by_h5 = {h5: name for name, h5 in paths.items()}
    leftover = [p for p in datasets if p not in by_h5 and not p.startswith(ignore_prefixes)]
    if leftover:
        raise CheckpointError(f"{path}: unexpected weights {', '.join(sorted(leftover)[:8])}")
    return {by_h5[p]: v for p, v in datasets.items() if p in by_h5}


def read_config(folder):
    with open(Path(folder) / "config.json") as f:
        return json.load(f)


def load_keras_preset(folder):
    """-> dict(backbone_config, backbone_weights, head_weights|None, proto, preprocessor)."""
    folder = Path(folder)
    config = read_config(folder)
    if not str(config.get("registered_name", "")).endswith(">AlbertBackbone"):
        raise CheckpointError(f"{folder}/config.json is not an AlbertBackbone config "
                              f"(registered_name={config.get('registered_name')!r}).")
    backbone_config = dict(config["config"])
    num_layers = backbone_config.get("num_groups", 1) * backbone_config.get(
        "num_inner_repetitions", 1)
    weights_file = folder / "model.weights.h5"
    if not weights_file.is_file():
        raise CheckpointError(f"{folder}: model.weights.h5 is missing.")
    result = {"backbone_config": backbone_config, "backbone_weights_file": weights_file,
              "backbone_paths": backbone_paths(num_layers), "head_weights_file": None,
              "proto": None, "preprocessor": {}}
    if (folder / "task.weights.h5").is_file():
        result["head_weights_file"] = folder / "task.weights.h5"
    if (folder / VOCAB_PATH).is_file():
        result["proto"] = (folder / VOCAB_PATH).read_bytes()
    if (folder / "preprocessor.json").is_file():
        with open(folder / "preprocessor.json") as f:
            result["preprocessor"] = json.load(f).get("config", {})
    result["metadata"] = {}
    if (folder / "metadata.json").is_file():
        with open(folder / "metadata.json") as f:
            result["metadata"] = json.load(f)
    return result


def read_backbone_weights(loaded):
    return read_h5(loaded["backbone_weights_file"], loaded["backbone_paths"])


def read_head_weights(loaded):
    return read_h5(loaded["head_weights_file"], HEAD_PATHS,
                   ignore_prefixes=("optimizer/",))


# -- writing --------------------------------------------------------------------------
def _policy(name):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name},
            "registered_name": None}


def _tokenizer_json():
    return {"module": "keras_hub.src.models.albert.albert_tokenizer",
            "class_name": "AlbertTokenizer",
            "config": {"name": "albert_tokenizer", "trainable": True,
                       "dtype": _policy("int32"), "config_file": "tokenizer.json",
                       "proto": None, "sequence_length": None, "add_bos": False,
                       "add_eos": False},
            "registered_name": "keras_hub>AlbertTokenizer"}


def _backbone_json(config):
    config = {"name": "albert_backbone", "trainable": True, "dtype": _policy("float32"),
              **{k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")}}
    return {"module": "keras_hub.src.models.albert.albert_backbone",
            "class_name": "AlbertBackbone", "config": config,
            "registered_name": "keras_hub>AlbertBackbone"}


PREPROCESSOR_KEYS = ("sequence_length", "truncate", "mask_selection_rate",
                     "mask_selection_length", "mask_token_rate", "random_token_rate")


def _preprocessor_json(preprocessor_config):
    config = {"name": "albert_masked_lm_preprocessor", "trainable": True,
              "dtype": _policy("float32"), "tokenizer": _tokenizer_json(),
              "config_file": "preprocessor.json"}
    config.update({k: preprocessor_config[k] for k in PREPROCESSOR_KEYS
                   if k in preprocessor_config})
    return {"module": "keras_hub.src.models.albert.albert_masked_lm_preprocessor",
            "class_name": "AlbertMaskedLMPreprocessor", "config": config,
            "registered_name": "keras_hub>AlbertMaskedLMPreprocessor"}


def _write_groups(f, groups):
    """Create (possibly empty) layer groups with keras' `vars` name attribute."""
    for path, name in groups:
        f.require_group(path).require_group("vars").attrs["name"] = name


def _write_backbone_h5(path, config, arrays):
    inner = config.get("num_inner_repetitions", 1)
    k_layers = config.get("num_groups", 1) * inner
    with h5py.File(path, "w") as f:
        f.require_group("vars")
        groups = [("layers/add", "embeddings_add"), ("layers/dense", "embedding_projection"),
                  ("layers/dense_1", "pooled_dense"), ("layers/dropout", "embeddings_dropout"),
                  ("layers/embedding", "segment_embedding"),
                  ("layers/input_layer", "token_ids"), ("layers/input_layer_1", "segment_ids"),
                  ("layers/input_layer_2", "padding_mask"),
                  ("layers/layer_normalization", "embeddings_layer_norm"),
                  ("layers/position_embedding", "position_embedding"),
                  ("layers/reversible_embedding", "token_embedding")]
        for k in range(k_layers):
            base = encoder_group(k)
            groups.append((base, f"group_{k // inner}_inner_layer_{k % inner}"))
            groups += [(f"{base}/{sub}", sub.lstrip("_"))
                       for sub in ("_self_attention_layer", "_self_attention_layer_norm",
                                   "_self_attention_dropout", "_feedforward_intermediate_dense",
                                   "_feedforward_output_dense", "_feedforward_layer_norm",
                                   "_feedforward_dropout")]
            groups += [(f"{base}/_self_attention_layer/{d}_dense", label) for d, label in (
                ("query", "query"), ("key", "key"), ("value", "value"),
                ("output", "attention_output"))]
            groups += [(f"{base}/_self_attention_layer/_softmax", "softmax"),
                       (f"{base}/_self_attention_layer/_dropout_layer", "dropout")]
        _write_groups(f, groups)
        for name, h5_path in backbone_paths(k_layers).items():
            f.create_dataset(h5_path, data=arrays[name])


def _write_head_h5(path, arrays):
    with h5py.File(path, "w") as f:
        _write_groups(f, [("layers/input_layer_3", "mask_positions"),
                          ("layers/masked_lm_head", "mlm_head"),
                          ("layers/masked_lm_head/_intermediate_dense", "intermediate_dense"),
                          ("layers/masked_lm_head/_intermediate_layer_norm",
                           "intermediate_layer_norm"),
                          ("preprocessor/tokenizer", "albert_tokenizer")])
        f.require_group("preprocessor/vars").attrs["name"] = "albert_masked_lm_preprocessor"
        f.require_group("vars").attrs["name"] = "albert_masked_lm"
        for name, h5_path in HEAD_PATHS.items():
            f.create_dataset(h5_path, data=arrays[name])


def _dump(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f, indent=4)


def save_preset(preset_dir, backbone_config, backbone_arrays, head_arrays, proto=None,
                preprocessor_config=None, parameter_count=0, albert_demo_metadata=None):
    """Write a keras-hub preset folder from configs and arrays by canonical name,
    atomically (temp dir + rename). Without `preprocessor_config` no tokenizer or
    preprocessor is written."""
    preset_dir = Path(preset_dir)
    preset_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{preset_dir.name}.", dir=preset_dir.parent))
    try:
        _dump(_backbone_json(backbone_config), tmp / "config.json")
        _write_backbone_h5(tmp / "model.weights.h5", backbone_config, backbone_arrays)
        _write_head_h5(tmp / "task.weights.h5", head_arrays)
        if preprocessor_config is not None:
            _dump(_tokenizer_json(), tmp / "tokenizer.json")
            _dump(_preprocessor_json(preprocessor_config), tmp / "preprocessor.json")
            (tmp / "assets/tokenizer").mkdir(parents=True)
            (tmp / VOCAB_PATH).write_bytes(proto)
        task = {"module": "keras_hub.src.models.albert.albert_masked_lm",
                "class_name": "AlbertMaskedLM",
                "config": {"backbone": _backbone_json(backbone_config),
                           "preprocessor": _preprocessor_json(preprocessor_config)
                           if preprocessor_config is not None else None,
                           "name": "albert_masked_lm"},
                "registered_name": "keras_hub>AlbertMaskedLM"}
        _dump(task, tmp / "task.json")
        import keras
        _dump({"keras_version": keras.__version__, "keras_hub_version": "0.32.0",
               "parameter_count": int(parameter_count),
               "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
               "tasks": ["MaskedLM"], "albert_demo": albert_demo_metadata or {}},
              tmp / "metadata.json")
        for file in tmp.rglob("*"):
            if file.is_file():
                with open(file, "rb") as f:
                    os.fsync(f.fileno())
        if preset_dir.exists():
            old = preset_dir.with_name(f".{preset_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            preset_dir.rename(old)
            tmp.rename(preset_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(preset_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return preset_dir
