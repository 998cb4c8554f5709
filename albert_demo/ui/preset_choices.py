"""The preset dropdown: every preset with its size and whether using it needs a download."""

from albert_demo.presets.registry import OFFICIAL_PRESETS, all_presets


def _params(n):
    return f"{n / 1e6:.1f}M params" if n else "size unknown"


def is_cached(info):
    """Whether an official preset's files are already in the Hugging Face cache."""
    if info.local_dir is not None:
        return True
    try:
        from huggingface_hub import try_to_load_from_cache
        return isinstance(try_to_load_from_cache(info.hf_repo, "config.json"), str)
    except Exception:  # a broken cache only means "not cached"
        return False


def preset_choices(finetuned_names=()):
    """[(label, name)] for the preset dropdown, the caller's fine-tuned models last."""
    choices = []
    for name, info in all_presets().items():
        if info.local_dir is not None:
            where = "embedded"
        else:
            where = "cached" if is_cached(info) else "download needed"
        choices.append((f"{name} ({_params(info.parameters)}, {where})", name))
    return choices + [(f"{name} (fine-tuned, yours)", name) for name in finetuned_names]


def official_preset_note():
    names = ", ".join(OFFICIAL_PRESETS)
    return (f"Official presets ({names}) are downloaded from Hugging Face on first use; "
            "offline, pick the embedded preset.")
