"""What the app does, as plain Python over the domain packages: text and names in,
JSON-ready values out. No Gradio here, so the page, the API, the command line and the tests
share one code path. Built once in `app.py` and handed to the tabs through `UIContext`.

    predictions = PredictionService(ModelCache())
    predictions.predict("The sky is [MASK].", "albert_tiny_en_uncased", 5)["masks"][0]
"""

from albert_demo.services.annotations import AnnotationService
from albert_demo.services.evaluation import EvaluationService
from albert_demo.services.explanations import ExplanationService
from albert_demo.services.predictions import PredictionService

__all__ = ["AnnotationService", "EvaluationService", "ExplanationService", "PredictionService"]
