"""What the page says about the model under the preset picker: one line per preset (size,
where it comes from, what to expect of it), and the default preset's background download
while it runs. Plain functions from names and a `default_preset.Status` to Markdown."""

import json

from albert_demo.finetune.registry import PREFIX as FINETUNED_PREFIX
from albert_demo.presets.registry import all_presets
from albert_demo.ui.preset_choices import is_cached

ROUGH = "a small offline model: expect rough guesses"


def held_out_top1(folder):
    """The embedded preset's held-out top-1 from its eval.json, or None."""
    try:
        with open(folder / "eval.json") as f:
            return float(json.load(f)["top1"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _size(parameters):
    return f"{parameters / 1e6:.1f}M parameters" if parameters else "size unknown"


def model_line(name):
    """One Markdown line about preset `name` (any name the picker accepts)."""
    name = (name or "").strip()
    info = all_presets().get(name)
    if name.startswith(FINETUNED_PREFIX):
        return f"**{name}**: your fine-tuned model (from the Fine-tune tab); only you see it."
    if info is None:
        return (f"**{name}**: a checkpoint you named (a folder or hf://owner/repo); how good "
                "its guesses are depends on how it was trained.")
    if info.local_dir is not None:
        top1 = held_out_top1(info.local_dir)
        score = f" Held-out top-1 {top1:.1%}:" if top1 is not None else ""
        return (f"**{name}**: {_size(info.parameters)}, embedded in this app (pretrained by "
                f"this project; works offline).{score} {ROUGH}.")
    where = "cached here" if is_cached(info) else "downloaded on first use"
    return (f"**{name}**: {_size(info.parameters)}, the official ALBERT v2 pretrained by "
            f"Google on English Wikipedia and books ({info.hf_repo} on Hugging Face, "
            f"{where}): the real ALBERT.")


def download_line(status):
    """The default preset's background download, while it matters to a visitor."""
    wanted, fallback = f"**{status.wanted}**", f"**{status.fallback}**"
    if status.state == "downloading":
        step = status.step or "starting"
        return (f"⏳ Downloading {wanted} in the background ({step}, "
                f"{status.received / 1e6:.1f} MB so far). Until it is ready this page "
                f"answers with the embedded {fallback}.")
    if status.state == "compiling":
        return (f"⏳ {wanted} is downloaded and compiling. Until it is ready this page "
                f"answers with the embedded {fallback}.")
    if status.state == "failed":
        return (f"{wanted} could not be loaded, so this page answers with the embedded "
                f"{fallback}. {status.error}")
    return ""


def offers_switch(preset, default):
    """Whether to show the one-click switch to the default official preset."""
    return default.offers_official and (preset or "").strip() != default.wanted
