"""The app's services, wired as `app.py` wires them, for tests that skip the browser."""

from types import SimpleNamespace

from albert_demo.finetune.registry import FinetunedRegistry
from albert_demo.services import AnnotationService, EvaluationService, PredictionService


def build_services(cache, store=None, data_dir=None):
    """-> namespace(predictions, annotations, evaluation); fine-tuned names resolve under
    `data_dir` when one is given."""
    finetuned = FinetunedRegistry(data_dir) if data_dir is not None else None
    predictions = PredictionService(cache, finetuned)
    annotations = AnnotationService(store, predictions)
    return SimpleNamespace(predictions=predictions, annotations=annotations,
                           evaluation=EvaluationService(predictions, annotations))
