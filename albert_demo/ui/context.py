"""What every tab builder receives: shared services and the page's shared state."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class UIContext:
    """handlers: `Handlers`; cache: `ModelCache`; store: `AnnotationStore` or None;
    session: the `gr.BrowserState` holding this browser's anonymous session id;
    data_dir: the app's data folder; analysis: the Predict tab's `gr.State` (the last
    prediction, with attention); presets: the preset dropdown."""

    handlers: Any
    cache: Any
    store: Any
    session: Any
    data_dir: Path
    analysis: Any = None
    presets: Any = None

    def __getitem__(self, key):  # also usable as a dict: context["store"]
        return getattr(self, key)
