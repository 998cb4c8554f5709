"""ALBERT for masked language modelling: backbone + tied MLM head + compile defaults."""

import warnings

import keras
import numpy as np

from albert_demo import __version__
from albert_demo.models.albert_backbone import AlbertBackbone
from albert_demo.models.albert_layers import PACKAGE, AlbertMaskedLMHead
from albert_demo.models.albert_masked_lm_preprocessor import (
    PRESET_KEYS, AlbertMaskedLMPreprocessor)
from albert_demo.models.preset_mixin import PresetMixin
from albert_demo.presets import keras_format
from albert_demo.presets.weights import assign_strict


def is_raw_text(x):
    """True for a string, a list/array of strings, or a tuple of two such batches."""
    if isinstance(x, str):
        return True
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "UO" and (x.size == 0 or isinstance(x.flat[0], str))
    if isinstance(x, tuple) and len(x) == 2 and all(isinstance(p, (list, np.ndarray))
                                                    for p in x):
        return all(is_raw_text(p) for p in x)
    if isinstance(x, list):
        return bool(x) and all(isinstance(t, (str, np.str_)) for t in x)
    return False


class PreprocessedBatches(keras.utils.PyDataset):
    """Batches raw strings through the preprocessor, re-masking every epoch."""

    def __init__(self, x, preprocessor, batch_size, shuffle, seed=None):
        super().__init__()
        self.pairs = isinstance(x, tuple)
        self.x = (list(x[0]), list(x[1])) if self.pairs else (
            [x] if isinstance(x, str) else list(x))
        self.count = len(self.x[0]) if self.pairs else len(self.x)
        self.preprocessor = preprocessor
        self.batch_size = batch_size or 32
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(self.count)
        self.on_epoch_end()

    def __len__(self):
        return -(-self.count // self.batch_size)

    def __getitem__(self, index):
        ids = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        if self.pairs:
            batch = ([self.x[0][i] for i in ids], [self.x[1][i] for i in ids])
        else:
            batch = [self.x[i] for i in ids]
        return self.preprocessor(batch)

    def on_epoch_end(self):
        if self.shuffle:
            self.rng.shuffle(self.order)


@keras.saving.register_keras_serializable(package=PACKAGE)
class AlbertMaskedLM(PresetMixin, keras.Model):
    """An end-to-end ALBERT model for masked language modelling.

    With a `preprocessor`, `fit` / `predict` / `evaluate` take raw strings, tokenized and
    dynamically masked per batch; without one they take the dict
    `{token_ids, padding_mask, segment_ids, mask_positions}` (+ labels). Outputs logits
    `(batch, num_masks, vocabulary_size)`.

    Example:
    ```python
    features = ["The quick brown fox jumped.", "I forgot my homework."]
    masked_lm = AlbertMaskedLM.from_preset("albert_tiny_en_uncased")
    masked_lm.fit(x=features, batch_size=2)
    masked_lm.backbone.trainable = False   # freeze the encoder; the head still trains
    ```
    """

    backbone_cls = AlbertBackbone
    preprocessor_cls = AlbertMaskedLMPreprocessor

    def __init__(self, backbone, preprocessor=None, head_layer_norm_epsilon=1e-5,
                 compile=True, **kwargs):
        kwargs.setdefault("name", "albert_masked_lm")
        super().__init__(**kwargs)
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.head_layer_norm_epsilon = head_layer_norm_epsilon
        # The head is small and decides the ranking: it always computes in float32, also
        # when the backbone runs in mixed bfloat16.
        self.masked_lm_head = AlbertMaskedLMHead(
            backbone.vocabulary_size, backbone.embedding_dim,
            layer_norm_epsilon=head_layer_norm_epsilon, dtype="float32", name="mlm_head")
        self.masked_lm_head.build((None, None, backbone.hidden_dim))
        self.built = True
        # True when the head's weights came from a checkpoint (not random).
        self.has_pretrained_head = False
        if compile:  # keras-hub's default; compile=False leaves it to the caller
            self.compile()

    def call(self, inputs, training=False, return_attention=False):
        if return_attention:  # every layer whole: the plots show every query row
            outputs = self.backbone(inputs, training=training, return_attention=True)
            states, positions = outputs["sequence_output"], inputs["mask_positions"]
        else:  # the head and the loss read the masked positions only: so does layer L
            outputs = self.backbone(inputs, training=training,
                                    output_positions=inputs["mask_positions"])
            states, positions = outputs["sequence_output"], None
        logits = self.masked_lm_head(states, positions, self.backbone.token_embedding)
        if return_attention:
            return {"logits": logits, "attention_probs": outputs["attention_probs"]}
        return logits

    def compile(self, optimizer="auto", loss="auto", *, weighted_metrics="auto",
                jit_compile=True, **kwargs):
        """keras-hub's defaults: Adam(5e-5), sparse CE from logits, weighted accuracy."""
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(5e-5)
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if weighted_metrics == "auto":
            weighted_metrics = [keras.metrics.SparseCategoricalAccuracy()]
        super().compile(optimizer=optimizer, loss=loss, weighted_metrics=weighted_metrics,
                        jit_compile=jit_compile, **kwargs)

    # -- raw strings in fit / predict / evaluate ---------------------------------------
    def _wrap(self, x, batch_size, shuffle):
        if isinstance(x, dict):  # keras' array adapter wants arrays, not nested lists
            x = {k: np.asarray(v) for k, v in x.items()}
        if self.preprocessor is not None and is_raw_text(x):
            return PreprocessedBatches(x, self.preprocessor, batch_size, shuffle), None
        if is_raw_text(x):
            raise ValueError("Raw strings need a preprocessor; this model has none. Pass "
                             "the preprocessed dict {token_ids, padding_mask, segment_ids, "
                             "mask_positions} or build the model with a preprocessor.")
        return x, batch_size

    def _refresh_optimizer_if_trainability_changed(self):
        """`backbone.trainable = False` after a fit leaves the built optimizer tracking the
        old variables; keras would refuse to train. Start a fresh optimizer of the same
        configuration instead (what a re-`compile` does)."""
        optimizer = getattr(self, "optimizer", None)
        if optimizer is None or not optimizer.built:
            return
        tracked = {id(v) for v in optimizer._trainable_variables}
        if tracked != {id(v) for v in self.trainable_variables}:
            fresh = optimizer.__class__.from_config(optimizer.get_config())
            self.compile(optimizer=fresh, loss=self.loss,
                         weighted_metrics=self._compile_config.config.get("weighted_metrics"),
                         jit_compile=self.jit_compile)

    def fit(self, x=None, y=None, batch_size=None, validation_data=None, shuffle=True,
            **kwargs):
        self._refresh_optimizer_if_trainability_changed()
        x, batch_size = self._wrap(x, batch_size, shuffle)
        y = np.asarray(y) if isinstance(y, (list, tuple)) else y
        if validation_data is not None and is_raw_text(validation_data):
            validation_data, _ = self._wrap(validation_data, kwargs.get(
                "validation_batch_size") or batch_size, False)
        return super().fit(x=x, y=y, batch_size=batch_size, validation_data=validation_data,
                           shuffle=shuffle, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        x, batch_size = self._wrap(x, batch_size, False)
        y = np.asarray(y) if isinstance(y, (list, tuple)) else y
        return super().evaluate(x=x, y=y, batch_size=batch_size, **kwargs)

    def predict(self, x, batch_size=None, **kwargs):
        x, batch_size = self._wrap(x, batch_size, False)
        return super().predict(x, batch_size=batch_size, **kwargs)

    def head_weights_by_name(self):
        """The MLM head's variables under their canonical checkpoint names."""
        h = self.masked_lm_head
        return {"head/dense_kernel": h.dense.kernel, "head/dense_bias": h.dense.bias,
                "head/ln_gamma": h.layer_norm.gamma, "head/ln_beta": h.layer_norm.beta,
                "head/output_bias": h.output_bias}

    def get_config(self):
        return {"name": self.name, "head_layer_norm_epsilon": self.head_layer_norm_epsilon,
                "backbone": keras.saving.serialize_keras_object(self.backbone),
                "preprocessor": keras.saving.serialize_keras_object(self.preprocessor)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for part in ("backbone", "preprocessor"):
            if isinstance(config.get(part), dict):
                config[part] = keras.saving.deserialize_keras_object(config[part])
        return cls(**config)

    @classmethod
    def _from_loaded(cls, loaded, load_weights=True, **kwargs):
        if "preprocessor" in kwargs:
            preprocessor = kwargs.pop("preprocessor")
        else:
            preprocessor = cls.preprocessor_cls._from_loaded(loaded, **{
                k: kwargs.pop(k) for k in list(kwargs) if k in PRESET_KEYS})
        dtype = kwargs.pop("dtype", None)  # e.g. "mixed_bfloat16" for the encoder
        backbone = cls.backbone_cls._from_loaded(loaded, load_weights,
                                                 **({"dtype": dtype} if dtype else {}))
        model = cls(backbone, preprocessor=preprocessor,
                    head_layer_norm_epsilon=loaded.head_layer_norm_epsilon, **kwargs)
        if load_weights:
            head = loaded.head_weights()
            if head is None:
                warnings.warn(
                    f"Preset {loaded.label!r} has no pretrained masked-LM head; the head is "
                    "RANDOM and its predictions are meaningless until fine-tuned. Use the "
                    "Hugging Face source (hf://albert/albert-*-v2) for a pretrained head.",
                    stacklevel=3)
            else:
                assign_strict(model.head_weights_by_name(), head,
                              f"{loaded.label} (MLM head)")
                model.has_pretrained_head = True
        model.preset_label = loaded.label
        return model

    def save_to_preset(self, preset_dir):
        """Write a keras-hub preset folder (loadable by keras_hub and by us)."""
        tokenizer = getattr(self.preprocessor, "tokenizer", None)
        return keras_format.save_preset(
            preset_dir, self.backbone.get_config(),
            {n: np.asarray(v) for n, v in self.backbone.weights_by_name().items()},
            {n: np.asarray(v) for n, v in self.head_weights_by_name().items()},
            proto=tokenizer.proto if tokenizer is not None else None,
            preprocessor_config=(self.preprocessor.get_config()
                                 if self.preprocessor is not None else None),
            parameter_count=self.backbone.count_params(),
            albert_demo_metadata={
                "version": __version__,
                "head_layer_norm_epsilon": self.head_layer_norm_epsilon,
                "do_lower_case": getattr(tokenizer, "do_lower_case", True)})
