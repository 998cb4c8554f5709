"""What every tab builder receives: the services, built once in `app.py`, and the page's
shared components."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from albert_demo.services import AnnotationService, EvaluationService, PredictionService


@dataclass
class UIContext:
    """The services come from `app.py`. The page parts every tab may use are made by
    `layout.build_demo` before it builds any tab: session (the `gr.BrowserState` holding
    this browser's anonymous session id), analysis (a `gr.State`: the last prediction,
    with attention) and tabs (the `gr.Tabs`). Tab builders read them and write nothing
    here; what one tab offers another is returned and passed on by `build_demo`.
    `annotations.store` is None when annotations are off; `finetune` is None when
    fine-tuning is off."""

    predictions: PredictionService
    annotations: AnnotationService
    evaluation: EvaluationService
    data_dir: Path
    finetune: Any = None          # albert_demo.finetune.FinetuneService
    campaigns: Any = None         # albert_demo.campaigns.CampaignService (None: turned off)
    explanations: Any = None      # ExplanationService (None: built from `predictions`)
    tabs: Any = None              # the page's gr.Tabs (a button may open another tab)
    session: Any = None
    analysis: Any = None

    @property
    def store(self):
        return self.annotations.store
