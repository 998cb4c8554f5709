"""`from_preset` and the `presets` listing for the four public classes.

`albert_demo.presets` reads a preset into plain configs, a vocabulary and arrays by
name; each class builds itself from that in `_from_loaded`. As in keras-hub, the task
names its parts (`backbone_cls`, `preprocessor_cls`) and the preprocessor its
`tokenizer_cls`; nothing dispatches on class names.
"""

from albert_demo.presets.loading import open_preset
from albert_demo.presets.registry import all_presets


class classproperty:
    def __init__(self, getter):
        self.getter = getter

    def __get__(self, instance, owner):
        return self.getter(owner)


class PresetMixin:
    """Adds `from_preset` and the `presets` listing to a class with `_from_loaded`."""

    @classproperty
    def presets(cls):
        return {name: {"name": name, "parameters": info.parameters,
                       "description": info.description, "source": info.source}
                for name, info in all_presets().items()}

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Build from a preset name, `hf://owner/repo`, `kaggle://…` or a local folder."""
        loaded = open_preset(preset, source=kwargs.pop("source", None),
                             allowed_dirs=kwargs.pop("allowed_dirs", None),
                             progress=kwargs.pop("progress", None))
        return cls._from_loaded(loaded, load_weights, **kwargs)

    @classmethod
    def _from_loaded(cls, loaded, load_weights=True, **kwargs):
        """Build from an opened preset (`albert_demo.presets.loading.LoadedPreset`)."""
        raise NotImplementedError(f"{cls.__name__} cannot be built from a preset.")
