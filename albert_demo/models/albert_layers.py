"""The layers ALBERT is made of: embeddings, one post-LN encoder layer, the MLM head.

Variable shapes follow keras-hub (attention kernels are `(hidden, heads, head_dim)`), so
checkpoints map one to one, without reshapes, in `albert_demo.presets`.
"""

import keras
from keras import ops

from albert_demo.models import accumulate

PACKAGE = "albert_demo"


def kernel_init():
    return keras.initializers.TruncatedNormal(stddev=0.02)


def gelu_approximate(x):
    """GELU with the tanh approximation (`gelu_new` in transformers)."""
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package=PACKAGE)
class AlbertEmbeddings(keras.layers.Layer):
    """Token + position + segment embeddings, LayerNorm, dropout, then E -> H.

    `token_embeddings` is shared with the MLM head, which reads it transposed.
    """

    def __init__(self, vocabulary_size, embedding_dim, hidden_dim, max_sequence_length,
                 num_segments=2, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        policy = self.dtype_policy
        self.layer_norm = keras.layers.LayerNormalization(epsilon=1e-12, dtype=policy,
                                                          name="layer_norm")
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=policy, name="dropout")
        self.projection = accumulate.Dense(hidden_dim, kernel_initializer=kernel_init(),
                                           dtype=policy, name="projection")

    def build(self, input_shape=None):
        e = self.embedding_dim
        self.token_embeddings = self.add_weight(
            shape=(self.vocabulary_size, e), initializer=kernel_init(), name="token_embeddings")
        self.position_embeddings = self.add_weight(
            shape=(self.max_sequence_length, e), initializer=kernel_init(),
            name="position_embeddings")
        self.segment_embeddings = self.add_weight(
            shape=(self.num_segments, e), initializer=kernel_init(), name="segment_embeddings")
        self.layer_norm.build((None, None, e))
        self.projection.build((None, None, e))
        self.built = True

    def call(self, token_ids, segment_ids, training=False):
        seq_len = ops.shape(token_ids)[1]
        x = ops.take(self.token_embeddings, token_ids, axis=0)
        x = x + ops.expand_dims(self.position_embeddings[:seq_len], 0)
        x = x + ops.take(self.segment_embeddings, segment_ids, axis=0)
        x = self.layer_norm(x)
        x = self.dropout_layer(x, training=training)
        return self.projection(x)

    def get_config(self):
        config = super().get_config()
        config.update(vocabulary_size=self.vocabulary_size, embedding_dim=self.embedding_dim,
                      hidden_dim=self.hidden_dim, max_sequence_length=self.max_sequence_length,
                      num_segments=self.num_segments, dropout=self.dropout)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class AlbertEncoderLayer(keras.layers.Layer):
    """One post-LN transformer layer: attention -> add & norm -> FFN -> add & norm.

    `call` returns `(outputs, attention_probs)`; probabilities are `(batch, heads, q, k)`.
    """

    def __init__(self, hidden_dim, num_heads, intermediate_dim, dropout=0.0,
                 layer_norm_epsilon=1e-12, **kwargs):
        super().__init__(**kwargs)
        if hidden_dim % num_heads:
            raise ValueError(
                f"hidden_dim ({hidden_dim}) must be divisible by num_heads ({num_heads}).")
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.head_dim = hidden_dim // num_heads
        policy = self.dtype_policy
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=policy, name="attention_layer_norm")
        self.ffn_intermediate = accumulate.Dense(
            intermediate_dim, activation=gelu_approximate, kernel_initializer=kernel_init(),
            dtype=policy, name="ffn_intermediate")
        self.ffn_output = accumulate.Dense(
            hidden_dim, kernel_initializer=kernel_init(), dtype=policy, name="ffn_output")
        self.ffn_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=policy, name="ffn_layer_norm")
        self.attention_dropout = keras.layers.Dropout(dropout, dtype=policy)
        self.output_dropout = keras.layers.Dropout(dropout, dtype=policy)
        self.ffn_dropout = keras.layers.Dropout(dropout, dtype=policy)

    def build(self, input_shape=None):
        h, n, d = self.hidden_dim, self.num_heads, self.head_dim
        for name in ("query", "key", "value"):
            setattr(self, f"{name}_kernel", self.add_weight(
                shape=(h, n, d), initializer=kernel_init(), name=f"{name}_kernel"))
            setattr(self, f"{name}_bias", self.add_weight(
                shape=(n, d), initializer="zeros", name=f"{name}_bias"))
        self.output_kernel = self.add_weight(
            shape=(n, d, h), initializer=kernel_init(), name="output_kernel")
        self.output_bias = self.add_weight(shape=(h,), initializer="zeros", name="output_bias")
        self.attention_layer_norm.build((None, None, h))
        self.ffn_intermediate.build((None, None, h))
        self.ffn_output.build((None, None, self.intermediate_dim))
        self.ffn_layer_norm.build((None, None, h))
        self.built = True

    def call(self, x, key_mask, training=False, return_probs=False, query_positions=None):
        """key_mask: bool (batch, 1, queries, keys), True where a key may be attended.

        query_positions (batch, m): compute outputs only at these positions (every key
        still attends), returning (batch, m, hidden). Exact: each position's output
        depends on the keys and on itself only, so the last layer need not run for tokens
        nobody reads (what a masked LM's head and loss use)."""
        x_kv = x
        if query_positions is not None:
            x = ops.take_along_axis(
                x, ops.expand_dims(ops.cast(query_positions, "int32"), -1), axis=1)
            shape = ops.shape(key_mask)
            key_mask = ops.broadcast_to(key_mask[:, :, :1, :],
                                        (shape[0], 1, ops.shape(x)[1], shape[3]))
        q = accumulate.einsum("bth,hnd->btnd", x, self.query_kernel) + self.query_bias
        k = accumulate.einsum("bsh,hnd->bsnd", x_kv, self.key_kernel) + self.key_bias
        v = accumulate.einsum("bsh,hnd->bsnd", x_kv, self.value_kernel) + self.value_bias
        scale = 1.0 / self.head_dim**0.5
        probs = None
        # In bfloat16, the explicit products (accumulating in float32) instead of the fused
        # kernel, whose probabilities x values product gives bfloat16 (slow on XLA:CPU).
        if (return_probs or (training and self.dropout > 0)
                or accumulate.accumulates_in_float32(q, k)):
            scores = accumulate.einsum("btnd,bsnd->bnts", q, k) * scale
            # Masked keys get -1e9, as keras-hub; softmax in float32 whatever the
            # compute dtype (a no-op in float32 models).
            bias = ops.where(key_mask, 0.0, -1e9)
            probs = ops.softmax(ops.cast(scores, "float32") + bias, axis=-1)
            context = accumulate.einsum(
                "bnts,bsnd->btnd",
                self.attention_dropout(ops.cast(probs, v.dtype), training=training), v)
        else:  # the fused kernel keras' own attention uses: same maths, no probs kept
            context = ops.dot_product_attention(q, k, v, mask=key_mask, scale=scale)
        attended = (accumulate.einsum("btnd,ndh->bth", context, self.output_kernel)
                    + self.output_bias)
        x = self.attention_layer_norm(x + self.output_dropout(attended, training=training))
        ffn = self.ffn_output(self.ffn_intermediate(x))
        x = self.ffn_layer_norm(x + self.ffn_dropout(ffn, training=training))
        return x, probs

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim, num_heads=self.num_heads,
                      intermediate_dim=self.intermediate_dim, dropout=self.dropout,
                      layer_norm_epsilon=self.layer_norm_epsilon)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class AlbertMaskedLMHead(keras.layers.Layer):
    """Gather masked positions -> Dense(E, gelu) -> LayerNorm -> tied decoder + bias."""

    def __init__(self, vocabulary_size, embedding_dim, layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.layer_norm_epsilon = layer_norm_epsilon
        self.dense = accumulate.Dense(embedding_dim, activation=gelu_approximate,
                                      kernel_initializer=kernel_init(),
                                      dtype=self.dtype_policy, name="dense")
        self.layer_norm = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon,
                                                          dtype=self.dtype_policy,
                                                          name="layer_norm")

    def build(self, hidden_shape=None):
        self.dense.build((None, None, hidden_shape[-1]))
        self.layer_norm.build((None, None, self.embedding_dim))
        self.output_bias = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros",
                                           name="output_bias")
        self.built = True

    def call(self, sequence_output, mask_positions, token_embeddings):
        """mask_positions None: sequence_output is already the masked positions' states."""
        gathered = ops.cast(sequence_output, self.compute_dtype)
        if mask_positions is not None:
            gathered = ops.take_along_axis(
                gathered, ops.expand_dims(ops.cast(mask_positions, "int32"), -1), axis=1)
        x = self.layer_norm(self.dense(gathered))
        logits = accumulate.matmul(x, ops.transpose(ops.cast(token_embeddings, x.dtype)))
        return logits + self.output_bias

    def get_config(self):
        config = super().get_config()
        config.update(vocabulary_size=self.vocabulary_size, embedding_dim=self.embedding_dim,
                      layer_norm_epsilon=self.layer_norm_epsilon)
        return config
