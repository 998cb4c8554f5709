"""ALBERT encoder: factorised embeddings, cross-layer sharing, post-LN layers, pooler."""

import keras
from keras import ops

from albert_demo.models import accumulate
from albert_demo.models.albert_layers import (
    PACKAGE, AlbertEmbeddings, AlbertEncoderLayer, kernel_init)
from albert_demo.models.preset_mixin import PresetMixin
from albert_demo.presets.weights import LAYER_PARTS, assign_strict


@keras.saving.register_keras_serializable(package=PACKAGE)
class AlbertBackbone(PresetMixin, keras.Model):
    """The ALBERT encoder network, same arguments as `keras_hub.models.AlbertBackbone`.

    `num_groups * num_inner_repetitions` distinct encoder layers exist; group `g` is
    applied `num_layers // num_groups` times, running all its inner layers each time.

    Example:
    ```python
    import numpy as np
    from albert_demo import AlbertBackbone
    backbone = AlbertBackbone(vocabulary_size=1000, num_layers=4, num_heads=2,
                              num_groups=2, num_inner_repetitions=1, embedding_dim=16,
                              hidden_dim=32, intermediate_dim=64, max_sequence_length=64)
    inputs = {"token_ids": np.ones((1, 12), "int32"),
              "segment_ids": np.zeros((1, 12), "int32"),
              "padding_mask": np.ones((1, 12), "int32")}
    out = backbone(inputs)  # {"sequence_output": (1, 12, 32), "pooled_output": (1, 32)}
    out = backbone(inputs, return_attention=True)  # adds "attention_probs": (4, 1, 2, 12, 12)
    ```
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, embedding_dim, hidden_dim,
                 intermediate_dim, num_groups=1, num_inner_repetitions=1, dropout=0.0,
                 max_sequence_length=512, num_segments=2, dtype=None, **kwargs):
        if num_layers % num_groups:
            raise ValueError(
                f"num_layers ({num_layers}) must be divisible by num_groups ({num_groups}).")
        super().__init__(dtype=dtype, **kwargs)
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.num_groups = num_groups
        self.num_inner_repetitions = num_inner_repetitions
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.embeddings = AlbertEmbeddings(
            vocabulary_size, embedding_dim, hidden_dim, max_sequence_length, num_segments,
            dropout, dtype=dtype, name="embeddings")
        # Creation order is group-major, like transformers' albert_layer_groups.{g}.{i}.
        self.transformer_layers = [
            AlbertEncoderLayer(hidden_dim, num_heads, intermediate_dim, dropout, dtype=dtype,
                               name=f"group_{g}_inner_layer_{i}")
            for g in range(num_groups) for i in range(num_inner_repetitions)]
        self.pooler = accumulate.Dense(hidden_dim, activation="tanh",
                                       kernel_initializer=kernel_init(), dtype=dtype,
                                       name="pooler")
        self.embeddings.build()
        for layer in self.transformer_layers:
            layer.build()
        self.pooler.build((None, hidden_dim))
        self.built = True

    @property
    def token_embedding(self):
        """The (vocabulary, embedding_dim) table the MLM head decodes with."""
        return self.embeddings.token_embeddings

    @property
    def num_attention_maps(self):
        """How many attention maps one forward pass produces (one per applied layer)."""
        return self.num_layers * self.num_inner_repetitions

    def applied_layers(self):
        """The encoder layers in the order a forward pass runs them."""
        calls_per_group = self.num_layers // self.num_groups
        order = []
        for depth in range(self.num_layers):
            group = depth // calls_per_group
            start = group * self.num_inner_repetitions
            order.extend(self.transformer_layers[start:start + self.num_inner_repetitions])
        return order

    def call(self, inputs, training=False, return_attention=False, output_positions=None):
        """output_positions (batch, m): the last layer runs for these positions only and
        "sequence_output" is (batch, m, hidden) there, with no pooled output (an exact
        saving for masked-LM heads; ignored when attention is returned)."""
        token_ids = ops.cast(inputs["token_ids"], "int32")
        segment_ids = ops.cast(inputs["segment_ids"], "int32")
        padding_mask = ops.cast(inputs["padding_mask"], "int32")
        x = self.embeddings(token_ids, segment_ids, training=training)
        # (batch, 1, queries, keys): the full layout cuDNN's fused attention accepts.
        key_mask = ops.cast(padding_mask, "bool")[:, None, None, :]
        seq_len = ops.shape(token_ids)[1]
        key_mask = ops.broadcast_to(key_mask, (ops.shape(token_ids)[0], 1, seq_len, seq_len))
        all_probs = []
        layers = self.applied_layers()
        only_at = None if return_attention else output_positions
        for depth, layer in enumerate(layers):
            last = depth == len(layers) - 1
            x, probs = layer(x, key_mask, training=training, return_probs=return_attention,
                             query_positions=only_at if last else None)
            if return_attention:
                all_probs.append(probs)
        if only_at is not None:
            return {"sequence_output": x}
        outputs = {"sequence_output": x, "pooled_output": self.pooler(x[:, 0, :])}
        if return_attention:
            outputs["attention_probs"] = ops.stack(all_probs)
        return outputs

    def weights_by_name(self):
        """Every variable under the canonical name checkpoints are mapped to
        (`albert_demo.presets.weights`)."""
        e = self.embeddings
        names = {
            "embeddings/token": e.token_embeddings,
            "embeddings/position": e.position_embeddings,
            "embeddings/segment": e.segment_embeddings,
            "embeddings/ln_gamma": e.layer_norm.gamma,
            "embeddings/ln_beta": e.layer_norm.beta,
            "embeddings/projection_kernel": e.projection.kernel,
            "embeddings/projection_bias": e.projection.bias,
            "pooler/kernel": self.pooler.kernel,
            "pooler/bias": self.pooler.bias,
        }
        for k, layer in enumerate(self.transformer_layers):
            parts = [layer.query_kernel, layer.query_bias, layer.key_kernel, layer.key_bias,
                     layer.value_kernel, layer.value_bias, layer.output_kernel,
                     layer.output_bias, layer.attention_layer_norm.gamma,
                     layer.attention_layer_norm.beta, layer.ffn_intermediate.kernel,
                     layer.ffn_intermediate.bias, layer.ffn_output.kernel,
                     layer.ffn_output.bias, layer.ffn_layer_norm.gamma,
                     layer.ffn_layer_norm.beta]
            names.update({f"layer_{k}/{p}": v for p, v in zip(LAYER_PARTS, parts)})
        return names

    @classmethod
    def _from_loaded(cls, loaded, load_weights=True, **kwargs):
        backbone = cls(**{**loaded.backbone_config, **kwargs})
        if load_weights:
            assign_strict(backbone.weights_by_name(), loaded.backbone_weights(),
                          f"{loaded.label} (backbone)")
        return backbone

    def get_config(self):
        return {
            "name": self.name,
            "dtype": self.dtype_policy.name,
            "trainable": self.trainable,
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "num_groups": self.num_groups,
            "num_inner_repetitions": self.num_inner_repetitions,
            "embedding_dim": self.embedding_dim,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "max_sequence_length": self.max_sequence_length,
            "num_segments": self.num_segments,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        dtype = config.pop("dtype", None)  # keras-hub writes a DTypePolicy dict (float32)
        if isinstance(dtype, str):  # ours: "float32" or "mixed_bfloat16"
            config["dtype"] = dtype
        return cls(**config)
