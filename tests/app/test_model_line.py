"""The model line under the preset picker and the default preset's download line: plain
functions, checked against the embedded preset's own eval.json."""

import json

from albert_demo.presets.default_preset import DefaultPreset, Status
from albert_demo.presets.registry import ASSETS_DIR, EMBEDDED_PRESET
from albert_demo.ui.model_line import download_line, model_line, offers_switch


def test_embedded_line_gives_its_held_out_top1_and_what_to_expect():
    top1 = json.loads((ASSETS_DIR / EMBEDDED_PRESET / "eval.json").read_text())["top1"]
    line = model_line(EMBEDDED_PRESET)
    assert f"{top1:.1%}" in line and "a small offline model: expect rough guesses" in line
    assert "13.0M parameters" in line and "works offline" in line


def test_official_fine_tuned_and_typed_presets_have_lines():
    base = model_line("albert_base_en_uncased")
    assert "official ALBERT v2" in base and "albert/albert-base-v2" in base
    assert "11.7M parameters" in base
    assert "your fine-tuned model" in model_line("finetuned/mine")
    assert "a checkpoint you named" in model_line("hf://someone/albert")


def test_download_line_follows_the_background_load():
    waiting = Status("albert_base_en_uncased", EMBEDDED_PRESET, "downloading",
                     "downloading model.safetensors", 12_300_000)
    line = download_line(waiting)
    assert "model.safetensors" in line and "12.3 MB" in line
    assert f"answers with the embedded **{EMBEDDED_PRESET}**" in line
    failed = Status("albert_base_en_uncased", EMBEDDED_PRESET, "failed",
                    error="Could not download preset 'albert_base_en_uncased' (timeout).")
    assert "could not be loaded" in download_line(failed) and "timeout" in download_line(failed)
    assert download_line(Status("albert_base_en_uncased", EMBEDDED_PRESET, "ready")) == ""


def test_switch_offered_only_towards_a_reachable_official_default():
    default = DefaultPreset("albert_base_en_uncased")
    assert offers_switch(EMBEDDED_PRESET, default)
    assert not offers_switch("albert_base_en_uncased", default)
    assert not offers_switch(EMBEDDED_PRESET, DefaultPreset(EMBEDDED_PRESET))
