"""The explanation features through the page's own handlers and API functions (no
browser): /salience, /compare, the salience view beside the attention maps, the Compare
tab and the rollout option. Tiny random presets served by a ModelCache."""

import gradio as gr
import pytest

from explain_helpers import tiny_masked_lm

TEXT = "the quick brown [MASK] jumped over the [MASK] dog ."
BUILT = {}  # the page demo_parts built


@pytest.fixture(scope="module")
def demo_parts(tmp_path_factory):
    from albert_demo.engine import ModelCache
    from albert_demo.services import (AnnotationService, EvaluationService,
                                      ExplanationService, PredictionService)
    from albert_demo.ui.context import UIContext
    from albert_demo.ui.layout import build_demo
    cache = ModelCache(loader=lambda name, progress=None: tiny_masked_lm(seed=int(name[-1])))
    predictions = PredictionService(cache, default_preset="tiny0")
    annotations = AnnotationService(None, predictions)
    context = UIContext(predictions, annotations, EvaluationService(predictions, annotations),
                        tmp_path_factory.mktemp("data"),
                        explanations=ExplanationService(predictions))
    demo = build_demo(context)
    fns = {fn.api_name: fn.fn for fn in demo.fns.values() if fn.fn is not None}
    BUILT["demo"] = demo
    return predictions, fns


def test_events_are_named(demo_parts):
    _, fns = demo_parts
    assert {"salience", "compare", "salience_view_explain", "salience_view_candidate",
            "compare_view", "compare_choices", "attention_plot_rollout"} <= set(fns)


def test_salience_api(demo_parts):
    _, fns = demo_parts
    result = fns["salience"](TEXT, "tiny0", 1, "dog", "gradient_x_input", "")
    assert result["preset"] == "tiny0" and result["method"] == "gradient_x_input"
    assert len(result["tokens"]) == len(result["attributions"])
    assert set(result["target"]) == {"token", "token_id", "log_prob"}
    assert "baseline_log_prob" in result and "completeness_error" in result
    best = fns["salience"](TEXT, "tiny0", 0, "", "integrated_gradients", "")
    assert best["steps"] == 32 and best["completeness_error"] < 0.05


@pytest.mark.parametrize("args, message", [
    ((TEXT, "tiny0", 2, "", "integrated_gradients", ""), "out of range"),
    ((TEXT, "tiny0", 0, "", "shapley", ""), "Unknown method"),
    ((TEXT, "tiny0", 0, "\u0436\u0436", "integrated_gradients", ""), "vocabulary"),
    ((TEXT, "tiny0", 0, 7, "integrated_gradients", ""), "token must be text"),
])
def test_salience_api_errors(demo_parts, args, message):
    _, fns = demo_parts
    with pytest.raises(gr.Error, match=message):
        fns["salience"](*args)


def test_compare_api(demo_parts):
    _, fns = demo_parts
    result = fns["compare"](TEXT, "tiny0, tiny1", 3, "")
    assert result["presets"] == ["tiny0", "tiny1"] and len(result["masks"]) == 2
    assert result["masks"][0]["pairs"][0]["js"] >= 0
    with pytest.raises(gr.Error, match="2 to 3"):
        fns["compare"](TEXT, "tiny0", 3, "")


def test_salience_view_and_compare_tab(demo_parts):
    predictions, fns = demo_parts
    found = predictions.analyse(TEXT, "tiny0", 5)
    token_id = found["result"]["masks"][1]["predictions"][2]["token_id"]  # a clicked word
    sentence, bars = fns["salience_view_candidate"](found, 1, token_id,
                                                    "integrated_gradients", "")
    assert "pushes" in sentence and bars is not None
    table, columns, agreement = fns["compare_view"](TEXT, ["tiny0", "tiny1"], 3, "")
    assert table.count("<table") == 2 and columns is not None and agreement is not None


def test_rollout_option(demo_parts):
    from albert_demo.ui.attention_tab import attention_figures
    predictions, _ = demo_parts
    found = predictions.analyse(TEXT, "tiny0", 5)
    heat, grid, bars = attention_figures(found, 1, 0, False, False, rollout=True)
    assert "rollout" in heat.layout.title.text and "Rollout" in bars.layout.title.text


def test_finetune_tab_opens_compare_with_the_base_model(tmp_path):
    """The Fine-tune tab's button: a clear message before any run; after one, the Compare
    tab selected with [base preset, fine-tuned model] (the run itself: tests/finetune)."""
    from types import SimpleNamespace

    from albert_demo.engine import ModelCache
    from albert_demo.finetune.service import FinetuneService
    from albert_demo.services import (AnnotationService, EvaluationService,
                                      PredictionService)
    from albert_demo.ui.context import UIContext
    from albert_demo.ui.layout import build_demo
    cache = ModelCache(loader=lambda name, progress=None: tiny_masked_lm(seed=int(name[-1])))
    predictions = PredictionService(cache, default_preset="tiny0")
    annotations = AnnotationService(None, predictions)
    finetune = FinetuneService(tmp_path, models=cache)
    demo = build_demo(UIContext(predictions, annotations,
                                EvaluationService(predictions, annotations), tmp_path,
                                finetune=finetune))
    fns = {fn.api_name: fn.fn for fn in demo.fns.values() if fn.fn is not None}
    assert "finetune_compare_run" in fns
    with pytest.raises(gr.Error, match="No fine-tuned model of yours yet"):
        fns["finetune_compare"]("session-1")
    job = SimpleNamespace(settings=SimpleNamespace(base_preset="tiny0"))
    finetune.job = lambda session_id: job
    finetune.status = lambda session_id: {"status": "done", "model_name": "finetuned/mine"}
    tabs, presets = fns["finetune_compare"]("session-1")
    assert tabs.selected == "compare"
    assert presets.value == ["tiny0", "finetuned/mine"]


def test_compare_opens_on_two_presets_or_says_how_to_get_a_second(demo_parts):
    """Compare's first view: two presets when two can be had, else an empty state, and a
    run with one preset shows that state instead of errors."""
    from albert_demo.presets.default_preset import DefaultPreset
    from albert_demo.ui.compare_tab import NEEDS_TWO, first_presets

    predictions, fns = demo_parts
    dropdown, empty = fns["compare_choices"]("")
    assert dropdown.value == ["tiny0"] and empty.visible is True
    assert "second model" in NEEDS_TWO and "Fine-tune" in NEEDS_TWO
    table, columns, agreement = fns["compare_view"](TEXT, ["tiny0"], 3, "")
    assert table == "" and columns.visible is False and agreement.visible is False
    # Where the Hub answered: the embedded and the official base; else a fine-tuned model.
    reachable = DefaultPreset("albert_base_en_uncased", fallback="tiny0")
    assert first_presets(reachable) == ["tiny0", "albert_base_en_uncased"]
    offline = DefaultPreset("tiny0", fallback="tiny0")
    assert first_presets(offline, ["finetuned/mine"]) == ["tiny0", "finetuned/mine"]


def test_no_empty_plot_frames_before_anything_ran(demo_parts):
    predictions, fns = demo_parts
    by_id = {getattr(b, "elem_id", None): b for b in BUILT["demo"].blocks.values()}
    for elem_id in ("salience-bars", "compare-columns", "compare-agreement"):
        assert by_id[elem_id].visible is False, elem_id
    found = predictions.analyse(TEXT, "tiny0", 5)
    token_id = found["result"]["masks"][0]["predictions"][0]["token_id"]
    _, bars = fns["salience_view_explain"](found, 0, token_id, "gradient_x_input", "")
    assert bars.visible is True
