"""What a person chooses for one fine-tuning run, checked before anything starts.

Example:
```python
settings = FinetuneSettings(name="legal-v1", steps=200, batch_size="8").checked()
settings.batch_size      # 8; a bad value raises FinetuneDataError naming the setting
```
"""

import dataclasses
from dataclasses import dataclass, field

from albert_demo import settings as server_settings
from albert_demo.engine.errors import InputError, finite_number, whole_number
from albert_demo.finetune.data import FinetuneDataError
from albert_demo.finetune.registry import check_name
from albert_demo.presets.registry import EMBEDDED_PRESET


def _setting(convert, value, label):
    """engine.errors' converters, with the fine-tune tab's error type."""
    try:
        return convert(value, label)
    except InputError as error:
        raise FinetuneDataError(str(error)) from None


def _max_steps():
    return server_settings.current().finetune_max_steps


def _max_seconds():
    return server_settings.current().finetune_max_seconds


@dataclass
class FinetuneSettings:
    """What a person chooses. `epochs`, when set, overrides `steps`; without `probes`,
    the run makes some from the upload's held-out lines."""
    name: str = "my-model"
    base_preset: str = EMBEDDED_PRESET
    steps: int | None = 100
    epochs: int | None = None
    learning_rate: float = 5e-5
    batch_size: int = 8
    sequence_length: int = 128
    mask_rate: float = 0.15
    freeze_backbone: bool = False
    validation_share: float = 0.1
    seed: int = 0
    checkpoint_every: int = 50  # steps; 0 = only at the end
    probes: tuple = ()
    max_steps: int = field(default_factory=_max_steps)
    max_seconds: float = field(default_factory=_max_seconds)
    data_parallel: bool | None = None  # None: on when several devices are present

    def checked(self):
        """A validated copy; raises FinetuneDataError saying which setting to change."""
        probes = self.probes if isinstance(self.probes, (list, tuple)) else ()
        if not all(isinstance(p, str) for p in probes):
            raise FinetuneDataError("Probe sentences must be text.")
        # API callers can send any JSON type: make each number a number first, by name.
        s = dataclasses.replace(
            self, name=check_name(self.name if isinstance(self.name, str) else None),
            probes=tuple(p for p in probes if p.strip()),
            epochs=_setting(whole_number, self.epochs, "Epochs") if self.epochs else None,
            steps=None if self.steps is None else _setting(whole_number, self.steps, "Steps"),
            learning_rate=_setting(finite_number, self.learning_rate, "The learning rate"),
            batch_size=_setting(whole_number, self.batch_size, "The batch size"),
            sequence_length=_setting(whole_number, self.sequence_length,
                                     "The sequence length"),
            mask_rate=_setting(finite_number, self.mask_rate, "The masking rate"),
            validation_share=_setting(finite_number, self.validation_share,
                                      "The validation share"),
            seed=_setting(whole_number, self.seed, "The seed"),
            checkpoint_every=_setting(whole_number, self.checkpoint_every,
                                      "Checkpoint every"))

        def need(ok, message):
            if not ok:
                raise FinetuneDataError(message)

        if s.epochs:
            need(1 <= s.epochs <= 1000, "Epochs must be between 1 and 1000.")
        else:
            need(s.steps is not None and 1 <= s.steps <= s.max_steps,
                 f"Steps must be between 1 and {s.max_steps} (this server's limit, "
                 "ALBERT_DEMO_FINETUNE_MAX_STEPS).")
        need(0 < s.learning_rate <= 1, "The learning rate must be above 0 and at "
             "most 1; 5e-5 is a good start.")
        need(1 <= s.batch_size <= 256, "The batch size must be between 1 and 256.")
        need(8 <= s.sequence_length <= 512, "The sequence length must be between 8 and "
             "512 tokens.")
        need(0 < s.mask_rate <= 0.5, "The masking rate must be above 0 and at most "
             "0.5; 0.15 is standard.")
        need(0 <= s.validation_share <= 0.5, "The validation share must be between 0 "
             "and 0.5.")
        need(0 <= s.checkpoint_every, "Checkpoint every must be 0 (only at the end) or more.")
        need(len(s.probes) <= 20, "At most 20 probe sentences.")
        return s
