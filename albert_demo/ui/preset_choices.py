"""The preset dropdown: every preset with its size and whether using it needs a download."""

from albert_demo.presets.reachability import cached_download
from albert_demo.presets.registry import OFFICIAL_PRESETS, all_presets


def _params(n):
    return f"{n / 1e6:.1f}M params" if n else "size unknown"


def is_cached(info):
    """Whether an official preset was downloaded completely (so it works offline)."""
    return info.local_dir is not None or cached_download(info.hf_repo) is not None


def preset_choices(finetuned_names=()):
    """[(label, name)] for the preset dropdown, the caller's fine-tuned models last."""
    choices = []
    for name, info in all_presets().items():
        if info.local_dir is not None:
            where = "embedded"
        else:
            where = "cached" if is_cached(info) else "needs network to download"
        choices.append((f"{name} ({_params(info.parameters)}, {where})", name))
    return choices + [(f"{name} (fine-tuned, yours)", name) for name in finetuned_names]


def official_preset_note():
    names = ", ".join(OFFICIAL_PRESETS)
    return (f"Official presets ({names}) are downloaded from Hugging Face on first use; "
            "offline, pick the embedded preset.")
