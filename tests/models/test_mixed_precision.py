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


def test_bfloat16_agrees_with_float32(pair):
    f32, b16 = pair
    texts = (ASSETS_DIR / EMBEDDED_PRESET / "heldout_sample.txt").read_text().split("\n")
    agree = total = 0
    worst = 0.0
    for text in [t for t in texts if t.strip()][:20]:
        words = text.split()[:60]
        for i in range(2, len(words), 9):
            masked = " ".join(words[:i] + ["[MASK]"] + words[i + 1:])
            if any(0x80 <= ord(c) < 0xA0 for c in masked):  # C1 controls are refused
                continue
            a = f32.predict(masked, 5)["masks"][0]["predictions"]
            b = b16.predict(masked, 5)["masks"][0]["predictions"]
            agree += a[0]["token_id"] == b[0]["token_id"]
            total += 1
            worst = max(worst, abs(a[0]["score"] - b[0]["score"]))
    assert total > 100
    # Measured: 99.5% top-1 agreement, worst top-1 probability difference 0.03.
    assert agree / total >= 0.95, (agree, total)
    assert worst < 0.1
