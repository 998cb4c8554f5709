"""The app's logic without a browser: JSON shapes, bad input, annotations, plots, CLI."""

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from albert_demo.annotations import AnnotationError, AnnotationNotFound
from albert_demo.engine import InputError
from albert_demo.errors import UserError
from albert_demo.presets.registry import EMBEDDED_PRESET
from albert_demo.presets.resolve import PresetError
from albert_demo.ui.predict_tab import filled_html
from albert_demo.ui.preset_choices import preset_choices

from .conftest import ROOT

TINY = EMBEDDED_PRESET


def check_predict_json(result, masks, top_k):
    assert set(result) == {"masks", "filled_text", "mode"}
    assert len(result["masks"]) == masks
    for mask in result["masks"]:
        assert isinstance(mask["index"], int)
        preds = mask["predictions"]
        assert len(preds) == top_k
        assert all(set(p) == {"token", "token_id", "score"} for p in preds)
        scores = [p["score"] for p in preds]
        assert scores == sorted(scores, reverse=True)
        assert all(0 <= s <= 1 for s in scores)
    json.dumps(result)  # JSON-ready as returned


def test_predict_json_shape(services):
    result = services.predictions.predict("The sky is [MASK] and the grass is [MASK].", TINY, 7)
    check_predict_json(result, masks=2, top_k=7)
    assert result["mode"] == "independent"
    best = [m["predictions"][0]["token"] for m in result["masks"]]
    assert result["filled_text"] == f"The sky is {best[0]} and the grass is {best[1]}."


def test_joint_mode_fills_in_order(services):
    result = services.predictions.predict_joint("The [MASK] barked at the [MASK].", TINY, 3)
    assert result["mode"] == "joint"
    assert sorted(m["fill_order"] for m in result["masks"]) == [1, 2]
    assert "[MASK]" not in result["filled_text"]


def test_candidates_are_scored_at_each_mask(services):
    result = services.predictions.score_candidates("The [MASK] is [MASK].", TINY, "sky, grass")
    assert [c["word"] for c in result["candidates"]] == ["sky", "grass"]
    assert all(len(c["scores"]) == 2 for c in result["candidates"])
    with pytest.raises(InputError, match="candidate"):
        services.predictions.score_candidates("The [MASK].", TINY, " , ")


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("   \n ", "empty"),
    ("No mask here.", "No \\[MASK\\] token found"),
    ("[MASK] " * 21, "at most 20 are allowed"),
    ("word " * 500 + "[MASK]", "characters; at most 2,000"),
    ("a " * 600 + "[MASK]", "this model reads at most 510"),
    ("The sky\x00 is [MASK].", "control"),
    ("Bell \x07 [MASK]", "U\\+0007"),
])
def test_bad_text_gets_a_clear_message(services, text, message):
    with pytest.raises(InputError, match=message):
        services.predictions.predict(text, TINY, 5)


@pytest.mark.parametrize("top_k", [0, 51, "many"])
def test_bad_top_k(services, top_k):
    with pytest.raises(InputError, match="top_k"):
        services.predictions.predict("The sky is [MASK].", TINY, top_k)


@pytest.mark.parametrize("text", ["I love 🍕 and [MASK] 🎉.", "مرحبا [MASK] بالعالم",
                                  "שלום [MASK] עולם", "Tabs\tand\nnewlines [MASK]."])
def test_emoji_rtl_and_whitespace_work(services, text):
    check_predict_json(services.predictions.predict(text, TINY, 3), masks=1, top_k=3)


def test_html_is_verbatim_in_json_and_escaped_in_html(services):
    text = '<script>alert("x")</script> <b>bold</b> [MASK] &amp;'
    result = services.predictions.predict(text, TINY, 3)
    assert result["filled_text"].startswith('<script>alert("x")</script> <b>bold</b> ')
    page = filled_html(text, result)
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;" in page and "&amp;amp;" in page
    assert page.count("<mark") == 1


def test_unknown_preset(services):
    with pytest.raises(PresetError, match="Unknown preset 'no_such_model'"):
        services.predictions.predict("The sky is [MASK].", "no_such_model", 5)


def test_preset_download_failure_offline(services, monkeypatch):
    import huggingface_hub.constants
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PresetError, match="Could not download preset 'albert_large_en_uncased'"
                                          ".*local preset"):
        services.predictions.predict("The sky is [MASK].", "albert_large_en_uncased", 5)
    assert "albert_large_en_uncased" not in services.predictions.cache.loaded()


def test_local_paths_refused_outside_the_allow_list(services, monkeypatch, tmp_path):
    monkeypatch.setenv("ALBERT_DEMO_ALLOWED_DIRS", str(tmp_path / "allowed"))
    with pytest.raises(PresetError, match="outside the allowed folders"):
        services.predictions.predict("The sky is [MASK].", "/etc", 5)


def test_preset_choices_list_size_and_cache_state():
    labels = dict((value, label) for label, value in preset_choices())
    assert "embedded" in labels[TINY]
    assert "M params" in labels["albert_base_en_uncased"]
    assert any(word in labels["albert_base_en_uncased"] for word in ("cached", "download"))


def test_analyse_keeps_attention_from_the_same_forward(services):
    traces = services.predictions.model(TINY).compiled.trace_count
    found = services.predictions.analyse("The [MASK] is blue.", TINY, 4, "independent", "sky")
    layers, heads, t, t2 = found["attention"].shape
    assert t == t2 == len(found["tokens"]) and found["mask_indices"] == [2]
    assert found["result"]["masks"][0]["predictions"][0]["token"]
    assert found["candidates"]["candidates"][0]["word"] == "sky"
    again = services.predictions.analyse("The [MASK] is red.", TINY, 4, "joint", "")
    assert again["result"]["mode"] == "joint" and again["candidates"] is None
    # 16-token bucket, with and without attention: at most two new programs, ever.
    assert services.predictions.model(TINY).compiled.trace_count - traces <= 2


def test_attention_api_selects_layer_and_head(services):
    full = services.predictions.attention("The [MASK] is blue.", TINY)
    n = len(full["tokens"])
    assert full["shape"] == [full["layers"], full["heads"], n, n]
    one = services.predictions.attention("The [MASK] is blue.", TINY, layer=1, head=2)
    assert one["shape"] == [1, 1, n, n]
    row_sums = np.asarray(one["attention"]).sum(-1)
    np.testing.assert_allclose(row_sums, 1, atol=1e-3)
    with pytest.raises(InputError, match="layer"):
        services.predictions.attention("The [MASK].", TINY, layer=99)


def test_annotate_search_export_import_evaluate(services, tmp_path):
    me, other = "session-me", "session-other"
    text = "The capital of France is [MASK]."
    found = services.predictions.analyse(text, TINY, 5)
    row = services.annotations.annotate(me, TINY, text, 0, "wrong", "paris", "geo", "<b>note</b>",
                            shown=found)
    assert row["predictions"] == found["result"]["masks"][0]["predictions"]
    services.annotations.annotate(me, TINY, "The sky is [MASK].", 0, "right", tag="colour")
    services.annotations.annotate(other, TINY, "Grass is [MASK].", 0, "right")

    mine = services.annotations.search(me)
    assert {r["text"] for r in mine} == {text, "The sky is [MASK]."}
    assert [r["tag"] for r in services.annotations.search(me, tag="geo")] == ["geo"]
    assert len(services.annotations.search(me, verdict="right")) == 1
    assert services.annotations.search(me, query="capital")[0]["note"] == "<b>note</b>"
    assert services.annotations.search(me, since="2000-01-01", until="2999-01-01")
    with pytest.raises(InputError, match="date"):
        services.annotations.search(me, since="yesterday")
    with pytest.raises(InputError, match="session_id"):  # no shared default owner
        services.annotations.search(None)
    with pytest.raises(InputError, match="session_id"):
        services.annotations.annotate("", TINY, "The sky is [MASK].", 0, "right")

    with pytest.raises(AnnotationNotFound):
        services.annotations.delete(other, row["id"])
    updated = services.annotations.update(me, row["id"], "wrong", "paris", "geo", "edited")
    assert updated["note"] == "edited"

    csv_path = services.annotations.export(me, "csv")
    jsonl_path = services.annotations.export(me, "jsonl", tag="geo")
    zip_path = services.annotations.export(me, "hf-dataset")
    assert len(open(jsonl_path, encoding="utf-8").read().splitlines()) == 1
    with zipfile.ZipFile(zip_path) as archive:
        assert "data/train.jsonl" in archive.namelist()

    assert services.annotations.import_file("session-new", csv_path) == {"imported": 2}
    assert len(services.annotations.search("session-new")) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"preset": "x", "text": "a [MASK]", "mask_index": 1}\nnot json\n')
    with pytest.raises(AnnotationError, match="line 2"):
        services.annotations.import_file("session-new", str(bad))
    assert len(services.annotations.search("session-new")) == 2  # nothing half-imported
    with pytest.raises(InputError, match=".csv or .jsonl"):
        services.annotations.import_file(me, str(tmp_path / "data.xlsx"))

    scores = services.evaluation.evaluate(me, [TINY])
    assert scores[0]["preset"] == TINY and scores[0]["items"] == 2
    assert 0 <= scores[0]["top1"] <= scores[0]["top5"] <= 1
    with pytest.raises(InputError, match="No annotated masks"):
        services.evaluation.evaluate("nobody", [TINY])

    assert services.annotations.delete(me, row["id"]) == {"deleted": row["id"]}
    assert len(services.annotations.search(me)) == 1


def test_annotate_rejects_a_missing_mask(services):
    with pytest.raises(InputError, match="Mask number 3 does not exist"):
        services.annotations.annotate("s", TINY, "The sky is [MASK].", 2, "right")


def test_plots_label_both_axes_and_hide_specials(services):
    from albert_demo.plots import (accuracy_chart, attention_heatmap, heads_grid,
                                   mask_attention_bars, predictions_chart)
    found = services.predictions.analyse("The [MASK] is [MASK].", TINY, 5)
    attention, tokens = found["attention"], found["tokens"]
    heat = attention_heatmap(attention, tokens, 0, 1)
    assert list(heat.data[0].x) == list(heat.data[0].y) and len(heat.data[0].x) == len(tokens)
    hidden = attention_heatmap(attention, tokens, 0, "mean", hide_special=True)
    assert len(hidden.data[0].x) == len(tokens) - 2
    assert not any("[CLS]" in label for label in hidden.data[0].x)
    np.testing.assert_allclose(hidden.data[0].z,
                               attention[0].mean(0)[1:-1, 1:-1], rtol=1e-6)
    assert len(heads_grid(attention, tokens, 0).data) == attention.shape[1]
    assert len(mask_attention_bars(attention, tokens, found["mask_indices"]).data) == 2
    bars = predictions_chart(found["result"])
    assert len(bars.data) == 2 and list(bars.data[0].x) == sorted(bars.data[0].x, reverse=True)
    assert len(accuracy_chart([{"preset": TINY, "top1": .2, "top5": .5, "items": 3}]).data) == 2


def test_user_errors_become_escaped_gradio_errors():
    import gradio as gr

    from albert_demo.ui.errors import user_errors

    @user_errors
    def fails():
        raise PresetError("Unknown preset '<img src=x onerror=alert(1)>'.")

    with pytest.raises(gr.Error) as caught:
        fails()
    assert "<img" not in caught.value.message and "&lt;img" in caught.value.message


def test_demo_builds_with_every_event_named(services, tmp_path):
    from albert_demo.ui.context import UIContext
    from albert_demo.ui.layout import build_demo
    demo = build_demo(UIContext(services.predictions, services.annotations,
                                services.evaluation, tmp_path))
    names = {fn.api_name for fn in demo.fns.values() if fn.fn is not None}
    assert None not in names and False not in names
    assert {"predict", "predict_joint", "score_candidates", "attention", "annotate",
            "annotations_export", "engine_stats", "analyse", "evaluate"} <= names


def test_building_the_page_patches_nothing(services, tmp_path, monkeypatch):
    """Only app.py's main() changes Gradio process-wide (lean sessions, missing imports): a
    notebook or a test that builds the page leaves Gradio and sys.modules as they were."""
    from gradio import state_holder

    from albert_demo.ui import lean_sessions
    from albert_demo.ui.context import UIContext
    from albert_demo.ui.layout import build_demo
    was_installed = state_holder.SessionState.__init__ is lean_sessions._lean_init
    lean_sessions.uninstall()
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    try:
        build_demo(UIContext(services.predictions, services.annotations,
                             services.evaluation, tmp_path))
        assert state_holder.SessionState.__init__ is lean_sessions._original_init
        assert sys.modules.get("matplotlib", "absent") is not None  # not marked missing
    finally:
        if was_installed:
            lean_sessions.install()


def test_tabs_write_nothing_into_the_shared_context(services, tmp_path):
    """What tabs share is made by the page before any tab; a tab that offers something to
    another returns it, so the order tabs are built in is no hidden contract."""
    from pathlib import Path

    from albert_demo.ui.context import UIContext
    from albert_demo.ui.layout import build_demo
    writes = []

    class Watched(UIContext):
        def __setattr__(self, name, value):
            writes.append((name, Path(sys._getframe(1).f_code.co_filename).name))
            super().__setattr__(name, value)

    context = Watched(services.predictions, services.annotations, services.evaluation,
                      tmp_path)
    writes.clear()
    build_demo(context)
    assert {writer for _, writer in writes} == {"layout.py"}, writes
    assert {"session", "analysis", "tabs"} <= {name for name, _ in writes}


def test_cli_prints_the_predict_json_without_gradio(services):
    code = ("import sys; from albert_demo.cli import main; rc = main(['predict', "
            "'The sky is [MASK].', '--top-k', '4']); assert 'gradio' not in sys.modules; "
            "sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == services.predictions.predict("The sky is [MASK].", TINY, 4)
    failed = subprocess.run([sys.executable, "-m", "albert_demo", "predict", "no mask"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 2 and "No [MASK] token found" in failed.stderr


def test_finetuned_models_resolve_for_their_owner_in_every_endpoint(tmp_path):
    """`finetuned/<name>` resolves among the caller's own models wherever a preset is taken:
    predict, joint, candidates, attention, analyse and evaluate."""
    from albert_demo import AlbertMaskedLM
    from albert_demo.annotations import AnnotationStore
    from albert_demo.engine import ModelCache
    from albert_demo.finetune.registry import owner_key
    from tests.harness.services import build_services

    folder = tmp_path / "finetuned" / owner_key("alice") / "mine"
    AlbertMaskedLM.from_preset(EMBEDDED_PRESET).save_to_preset(folder)
    with AnnotationStore.sqlite(tmp_path / "a.sqlite3") as store:
        services = build_services(ModelCache(), store, data_dir=tmp_path)
        p = services.predictions
        text, mine = "The sky is [MASK].", "finetuned/mine"
        result = p.predict(text, mine, 3, session_id="alice")
        assert len(result["masks"][0]["predictions"]) == 3
        assert p.predict_joint(text, mine, 3, session_id="alice")["mode"] == "joint"
        assert p.score_candidates(text, mine, "blue", session_id="alice")["candidates"]
        assert p.attention(text, mine, 0, 0, session_id="alice")["shape"][:2] == [1, 1]
        assert p.analyse(text, mine, 3, session_id="alice")["preset"] == mine
        services.annotations.annotate("alice", mine, text, 0, "wrong", "blue")
        assert services.evaluation.evaluate("alice", [mine])[0]["items"] == 1
        assert ("finetuned/mine (fine-tuned, yours)", mine) in \
            preset_choices(p.finetuned_names("alice"))
        assert mine not in [n for _, n in preset_choices(p.finetuned_names("bob"))]
        for call in (lambda: p.predict(text, mine, 3, session_id="bob"),
                     lambda: p.attention(text, mine, 0, 0, session_id="bob"),
                     lambda: p.score_candidates(text, mine, "blue", session_id="bob")):
            with pytest.raises(UserError, match="No fine-tuned model"):
                call()
        with pytest.raises(UserError, match="session_id"):
            p.predict(text, mine, 3)
