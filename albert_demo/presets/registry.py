"""The presets known by name: the four official ALBERT v2 models and our embedded one."""

from dataclasses import dataclass
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
EMBEDDED_PRESET = "albert_tiny_en_uncased"


@dataclass(frozen=True)
class PresetInfo:
    name: str
    parameters: int
    description: str
    kaggle_handle: str | None
    hf_repo: str | None
    local_dir: Path | None = None

    @property
    def source(self):
        if self.local_dir is not None:
            return f"embedded ({self.local_dir})"
        return f"hf://{self.hf_repo} (pretrained MLM head) or {self.kaggle_handle}"


OFFICIAL_PRESETS = {
    p.name: p for p in [
        PresetInfo("albert_base_en_uncased", 11_683_584,
                   "12-layer ALBERT base, uncased English (albert-base-v2).",
                   "kaggle://keras/albert/keras/albert_base_en_uncased/5",
                   "albert/albert-base-v2"),
        PresetInfo("albert_large_en_uncased", 17_683_968,
                   "24-layer ALBERT large, uncased English (albert-large-v2).",
                   "kaggle://keras/albert/keras/albert_large_en_uncased/3",
                   "albert/albert-large-v2"),
        PresetInfo("albert_extra_large_en_uncased", 58_724_864,
                   "24-layer ALBERT xlarge, uncased English (albert-xlarge-v2).",
                   "kaggle://keras/albert/keras/albert_extra_large_en_uncased/3",
                   "albert/albert-xlarge-v2"),
        PresetInfo("albert_extra_extra_large_en_uncased", 222_595_584,
                   "12-layer ALBERT xxlarge, uncased English (albert-xxlarge-v2).",
                   "kaggle://keras/albert/keras/albert_extra_extra_large_en_uncased/3",
                   "albert/albert-xxlarge-v2"),
    ]
}


def embedded_presets():
    """Presets shipped in assets/ (a folder per preset with a config.json)."""
    found = {}
    if ASSETS_DIR.is_dir():
        for folder in sorted(ASSETS_DIR.iterdir()):
            if (folder / "config.json").is_file():
                found[folder.name] = PresetInfo(
                    folder.name, _count_params(folder),
                    "Small English ALBERT pretrained by this project (see its model card).",
                    None, None, folder)
    return found


def _count_params(folder):
    import json
    try:
        with open(folder / "metadata.json") as f:
            return int(json.load(f).get("parameter_count", 0))
    except (OSError, ValueError):
        return 0


def all_presets():
    return {**embedded_presets(), **OFFICIAL_PRESETS}
