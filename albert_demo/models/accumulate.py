"""Matrix products that accumulate in float32 when both inputs are bfloat16.

Under the `mixed_bfloat16` policy, keras.ops' product of two bfloat16 arrays is a bfloat16
array, and XLA's CPU backend runs such a product about 3x slower than in float32, while the
same bfloat16 inputs with a float32 result run 1.6-2x faster than float32 (32x768 @
768x3072 on this project's AVX-512 machine: 2.98 ms bf16->bf16, 0.94 ms f32, 0.56 ms
bf16->f32). Accumulating in float32 and rounding once at the end is also the more exact of
the two. With float32 (or any other) inputs these are keras.ops' own matmul and einsum, so a
float32 model's program is unchanged.
"""

import functools

import keras
from keras import ops


def accumulates_in_float32(*operands):
    """True where the product is rewritten: JAX backend, every operand bfloat16."""
    return keras.backend.backend() == "jax" and all(
        keras.backend.standardize_dtype(x.dtype) == "bfloat16" for x in operands)


def _in_float32(product, a, b):
    """jnp `product` of bfloat16 a and b, accumulated in float32, rounded to bfloat16."""
    a, b = ops.convert_to_tensor(a), ops.convert_to_tensor(b)  # variables, autocast
    return product(a, b, preferred_element_type="float32").astype(a.dtype)


def einsum(equation, a, b):
    if accumulates_in_float32(a, b):
        import jax.numpy as jnp
        return _in_float32(functools.partial(jnp.einsum, equation), a, b)
    return ops.einsum(equation, a, b)


def matmul(a, b):
    if accumulates_in_float32(a, b):
        import jax.numpy as jnp
        return _in_float32(jnp.matmul, a, b)
    return ops.matmul(a, b)


@keras.saving.register_keras_serializable(package="albert_demo")
class Dense(keras.layers.Dense):
    """keras.layers.Dense, with its product accumulating in float32 under bfloat16.

    Same weights, names and config as keras' Dense (checkpoints and keras-hub presets map
    unchanged); in float32, keras' own `call` runs."""

    def call(self, inputs, training=None):
        kernel = self.kernel  # read inside the layer's call: already in the compute dtype
        if (self.lora_enabled or self.quantization_mode
                or not accumulates_in_float32(inputs, kernel)):
            return super().call(inputs, training=training)
        x = matmul(inputs, kernel)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x
