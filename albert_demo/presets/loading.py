"""Open a preset: resolve the handle, detect the layout, read configs and vocabulary;
weights are read lazily, as arrays by canonical name. Building models is
`albert_demo.models`' job (`from_preset` there).

Layout is detected, not configured: `config.json` with `registered_name` is a keras-hub
preset, with `model_type` a Hugging Face checkpoint.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from albert_demo.presets import hf_format, keras_format
from albert_demo.presets.resolve import resolve_preset
from albert_demo.presets.weights import CheckpointError

# Refuse absurd configs before allocating anything (a hostile config.json).
MAX_PARAMETERS = 1_000_000_000
LIMITS = {"vocabulary_size": 1_000_000, "num_layers": 96, "num_heads": 128,
          "num_groups": 96, "num_inner_repetitions": 16, "embedding_dim": 8192,
          "hidden_dim": 16384, "intermediate_dim": 65536, "max_sequence_length": 8192,
          "num_segments": 16}


def check_backbone_config(config, source):
    for key, limit in LIMITS.items():
        value = config.get(key)
        if key in ("num_groups", "num_inner_repetitions", "num_segments") and value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
            raise CheckpointError(f"{source}: config {key}={value!r} is not an integer in "
                                  f"1..{limit}; refusing to build the model.")
    v, e, h, i = (config[k] for k in ("vocabulary_size", "embedding_dim", "hidden_dim",
                                      "intermediate_dim"))
    distinct = config.get("num_groups", 1) * config.get("num_inner_repetitions", 1)
    params = (v + config["max_sequence_length"] + 2) * e + e * h + distinct * (
        4 * h * h + 2 * h * i) + h * h
    if params > MAX_PARAMETERS:
        raise CheckpointError(f"{source}: config describes ~{params:,} parameters, over the "
                              f"limit of {MAX_PARAMETERS:,}; refusing to build it.")


@dataclass
class LoadedPreset:
    label: str
    folder: Path
    layout: str  # "keras" or "hf"
    backbone_config: dict
    proto: bytes | None
    preprocessor_config: dict = field(default_factory=dict)
    do_lower_case: bool = True
    head_layer_norm_epsilon: float = 1e-5
    _reader: object = None

    def backbone_weights(self):
        return self._reader("backbone")

    def head_weights(self):
        return self._reader("head")


def open_preset(preset, source=None, allowed_dirs=None, progress=None):
    """Resolve a handle and read its configs (weights are read lazily)."""
    folder, label = resolve_preset(preset, source=source, allowed_dirs=allowed_dirs,
                                   progress=progress)
    config_file = Path(folder) / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{label}: {folder} has no config.json; not a preset folder.")
    try:
        config = keras_format.read_config(folder)
    except ValueError as error:
        raise CheckpointError(f"{label}: config.json is not valid JSON ({error}).") from error
    if "registered_name" in config:
        loaded = keras_format.load_keras_preset(folder)
        meta = loaded["metadata"].get("albert_demo", {})
        cfg = {k: v for k, v in loaded["backbone_config"].items()
               if k not in ("name", "trainable", "dtype")}
        check_backbone_config(cfg, label)
        cache = {}

        def reader(part):
            if part not in cache:
                if part == "backbone":
                    cache[part] = keras_format.read_backbone_weights(loaded)
                else:
                    cache[part] = (keras_format.read_head_weights(loaded)
                                   if loaded["head_weights_file"] else None)
            return cache[part]

        return LoadedPreset(label, Path(folder), "keras", cfg, loaded["proto"],
                            loaded["preprocessor"], meta.get("do_lower_case", True),
                            meta.get("head_layer_norm_epsilon", 1e-5), reader)
    if "model_type" in config:
        hf_config = hf_format.read_hf_config(folder)
        cfg = hf_format.backbone_config_from_hf(hf_config)
        check_backbone_config(cfg, label)
        spiece = Path(folder) / "spiece.model"
        do_lower_case = True
        tokenizer_config = Path(folder) / "tokenizer_config.json"
        if tokenizer_config.is_file():
            with open(tokenizer_config) as f:
                do_lower_case = json.load(f).get("do_lower_case", True)
        cache = {}

        def reader(part):
            if not cache:
                tensors = hf_format.read_safetensors(folder)
                cache["backbone"], cache["head"] = hf_format.convert_hf_weights(
                    tensors, cfg, cfg["num_heads"])
            return cache[part]

        return LoadedPreset(label, Path(folder), "hf", cfg,
                            spiece.read_bytes() if spiece.is_file() else None, {},
                            do_lower_case, hf_config.get("layer_norm_eps", 1e-12), reader)
    raise CheckpointError(f"{label}: config.json has neither 'registered_name' (keras-hub) "
                          "nor 'model_type' (Hugging Face); cannot tell its layout.")
