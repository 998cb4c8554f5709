"""`dtype="mixed_bfloat16"` runs the encoder in bfloat16 (float32 weights, float32 softmax,
layer norms and MLM head). Offered only with its quality checked against float32 here."""

from pathlib import Path

import pytest

from albert_demo import AlbertMaskedLM
from albert_demo.engine import MaskPredictor
from albert_demo.presets.registry import ASSETS_DIR, EMBEDDED_PRESET


@pytest.fixture(scope="module")
def pair():
    f32 = AlbertMaskedLM.from_preset(EMBEDDED_PRESET)
    b16 = AlbertMaskedLM.from_preset(EMBEDDED_PRESET, dtype="mixed_bfloat16")
    return MaskPredictor(f32, "f32"), MaskPredictor(b16, "bf16")


def test_policy_reaches_every_encoder_layer(pair):
    model = pair[1].masked_lm
    assert model.backbone.dtype_policy.name == "mixed_bfloat16"
    for layer in model.backbone.transformer_layers:
        assert layer.ffn_intermediate.compute_dtype == "bfloat16"
    assert model.masked_lm_head.compute_dtype == "float32"
    assert all(w.dtype == "float32" for w in model.weights)


def held_out_items():
    """One [MASK] every 9 words in each line of the embedded preset's held-out sample."""
    texts = (ASSETS_DIR / EMBEDDED_PRESET / "heldout_sample.txt").read_text().split("\n")
    items = []
    for text in [t for t in texts if t.strip()]:
        words = text.split()[:60]
        for i in range(2, len(words), 9):
            masked = " ".join(words[:i] + ["[MASK]"] + words[i + 1:])
            if not any(0x80 <= ord(c) < 0xA0 for c in masked):  # C1 controls are refused
                items.append(masked)
    return items


def test_bfloat16_agrees_with_float32(pair):
    """The issue's bar for a lower-precision option: top-1 agreement >= 99% with float32
    over the whole held-out sample (~80 s here, the price of the whole sample)."""
    f32, b16 = pair
    items = held_out_items()
    agree = worst = 0
    for text in items:  # one at a time, each at its own length bucket, as the app runs
        a = f32.predict(text, 5)["masks"][0]["predictions"][0]
        b = b16.predict(text, 5)["masks"][0]["predictions"][0]
        agree += a["token_id"] == b["token_id"]
        worst = max(worst, abs(a["score"] - b["score"]))
    assert len(items) > 2000
    # Measured: 99.22% top-1 agreement over 2432 masks (99.34% before the products
    # accumulated in float32), worst top-1 probability difference 0.056.
    assert agree / len(items) >= 0.99, (agree, len(items))
    assert worst < 0.1


def test_bfloat16_products_accumulate_in_float32(pair):
    """XLA's CPU backend runs bfloat16 x bfloat16 -> bfloat16 products ~3x slower than
    float32, and bfloat16 -> float32 ones 1.6-2x faster: every product of the bfloat16
    forward must be of the second kind (albert_demo/models/accumulate.py)."""
    import jax
    import numpy as np

    model = pair[1].masked_lm
    inputs = {"token_ids": np.ones((1, 16), "int32"), "segment_ids": np.zeros((1, 16), "int32"),
              "padding_mask": np.ones((1, 16), "int32"),
              "mask_positions": np.ones((1, 4), "int32")}
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    for attention in (False, True):
        jaxpr = jax.make_jaxpr(lambda t, n, x, a=attention: model.stateless_call(
            t, n, x, return_attention=a)[0])(trainable, non_trainable, inputs)
        products = [eqn for eqn in _equations(jaxpr.jaxpr) if eqn.primitive.name == "dot_general"]
        bf16 = [eqn for eqn in products
                if all(v.aval.dtype == "bfloat16" for v in eqn.invars)]
        assert len(bf16) >= 6, len(bf16)  # q, k, v, output, two FFN products at least
        assert all(eqn.outvars[0].aval.dtype == "float32" for eqn in bf16), [
            str(eqn)[:120] for eqn in bf16 if eqn.outvars[0].aval.dtype != "float32"]


def _equations(jaxpr):
    """Every equation, inside nested jaxprs (jit, custom_jvp, ...) too."""
    for eqn in jaxpr.eqns:
        yield eqn
        for value in eqn.params.values():
            for inner in (value if isinstance(value, (list, tuple)) else [value]):
                inner = getattr(inner, "jaxpr", inner)
                if hasattr(inner, "eqns"):
                    yield from _equations(inner)


def test_serving_dtype_is_an_opt_in_setting(monkeypatch):
    """ALBERT_DEMO_SERVING_DTYPE=mixed_bfloat16 makes the server load presets in bfloat16;
    float32 stays the default, and a misspelt value stops the server with the choices."""
    from albert_demo import settings
    from albert_demo.engine.model_cache import ModelCache

    assert settings.Settings.from_env({}).serving_dtype == "float32"
    with pytest.raises(ValueError, match="float32, mixed_bfloat16"):
        settings.Settings.from_env({"ALBERT_DEMO_SERVING_DTYPE": "int4"})
    monkeypatch.setenv("ALBERT_DEMO_SERVING_DTYPE", "mixed_bfloat16")
    served = ModelCache().get(EMBEDDED_PRESET)
    assert served.masked_lm.backbone.dtype_policy.name == "mixed_bfloat16"
    assert served.predict("The sky is [MASK] today.", 3)["masks"][0]["predictions"]
