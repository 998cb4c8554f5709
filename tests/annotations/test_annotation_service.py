"""AnnotationService / EvaluationService: leave-vs-clear updates, the simple CSV, import
limits, evaluation's skip reasons and fine-tuned choices, and where exports go."""

from __future__ import annotations

import json
import os
import tempfile
import time
from types import SimpleNamespace

import pytest

from albert_demo.annotations import AnnotationError, AnnotationNotFound, AnnotationStore
from albert_demo.annotations.formats import MAX_JSON_DEPTH, TEMPLATE_CSV, parse_import
from albert_demo.annotations.training import skip_summary
from albert_demo.engine.errors import InputError
from albert_demo.presets.registry import EMBEDDED_PRESET
from albert_demo.services import AnnotationService, EvaluationService
from albert_demo.services.evaluation import summary

PREDS = [{"token": "\u2581paris", "token_id": 7, "score": 0.5},
         {"token": "\u2581london", "token_id": 8, "score": 0.2}]


@pytest.fixture(scope="module")
def cache():
    from albert_demo.engine import ModelCache
    return ModelCache()


@pytest.fixture()
def sqlite_store(tmp_path):
    with AnnotationStore.sqlite(tmp_path / "annotations.sqlite3") as store:
        yield store


def service(store, tmp_path, cache=None, finetuned=()):
    """An AnnotationService; predictions is the real service when `cache` is given."""
    if cache is None:
        predictions = SimpleNamespace(default_preset=EMBEDDED_PRESET,
                                      finetuned_names=lambda session_id: list(finetuned))
    else:
        from albert_demo.services import PredictionService
        predictions = PredictionService(cache)
    return AnnotationService(store, predictions, exports_dir=tmp_path / "exports")


def add(store, session="me", **fields):
    row = dict(session_id=session, preset=EMBEDDED_PRESET, text="Paris is the [MASK].",
               mask_index=4, predictions=PREDS, verdict="wrong", correct_token="capital",
               tag="geo", note="first")
    row.update(fields)
    return store.add(**row)


# ------------------------------------------------------------------- update
def test_update_changes_only_what_is_given_and_clears_what_is_empty(sqlite_store, tmp_path):
    annotations = service(sqlite_store, tmp_path)
    row = add(sqlite_store)
    kept = {"verdict": "wrong", "correct_token": "capital", "tag": "geo"}

    after = annotations.update("me", row.id, note="edited")  # None: leave as is
    assert after["note"] == "edited" and {k: after[k] for k in kept} == kept

    after = annotations.update("me", str(row.id), tag="")  # "": clear
    assert after["tag"] is None and after["correct_token"] == "capital"
    after = annotations.update("me", row.id, verdict="none")
    assert after["verdict"] is None and after["note"] == "edited"
    after = annotations.update("me", row.id, verdict="right", correct_token="")
    assert (after["verdict"], after["correct_token"]) == ("right", None)

    unchanged = annotations.update("me", row.id)  # nothing given: nothing written
    assert unchanged == after
    assert annotations.get("me", row.id) == after


@pytest.mark.parametrize("bad", [1.5, "1.5", "2.0e0", True, "one", float("nan")])
def test_update_refuses_ids_that_are_not_whole(sqlite_store, tmp_path, bad):
    annotations = service(sqlite_store, tmp_path)
    add(sqlite_store), add(sqlite_store)
    with pytest.raises(InputError, match="annotation id must be a whole number"):
        annotations.update("me", bad, note="x")
    with pytest.raises(InputError, match="whole number"):
        annotations.delete("me", bad)
    assert [r.note for r in sqlite_store.search()] == ["first", "first"]  # nothing changed


def test_get_and_update_of_someone_elses_row_say_not_yours(sqlite_store, tmp_path):
    annotations = service(sqlite_store, tmp_path)
    row = add(sqlite_store, session="other")
    for call in (lambda: annotations.get("me", row.id),
                 lambda: annotations.update("me", row.id, note="x"),
                 lambda: annotations.get("me", 10**6)):
        with pytest.raises(AnnotationNotFound, match="among yours"):
            call()


def test_the_form_sends_only_edited_fields():
    from albert_demo.ui.annotations_tab import edits
    loaded = {"verdict": "wrong", "correct_token": "capital", "tag": "geo", "note": None}
    assert edits(loaded, "wrong", "capital", "geo", "new note") == {"note": "new note"}
    assert edits(loaded, "wrong", "capital", "", "") == {"tag": ""}
    assert edits(loaded, "none", "capital ", "geo", "") == {"verdict": "none"}
    assert edits(loaded, "wrong", "capital", "geo", None) == {}


# ------------------------------------------------------------------- import
def test_simple_csv_gets_the_embedded_preset_and_its_mask_positions(sqlite_store, tmp_path,
                                                                    cache):
    annotations = service(sqlite_store, tmp_path, cache)
    result = annotations.import_file("me", str(TEMPLATE_CSV))
    assert result == {"imported": 3, "preset": EMBEDDED_PRESET, "preset_assumed": 3}
    model = cache.get(EMBEDDED_PRESET)
    for row in annotations.search("me"):
        assert row["preset"] == EMBEDDED_PRESET and row["mask_ordinal"] == 0
        assert row["mask_index"] == model.predict(row["text"], 1)["masks"][0]["index"]
        assert row["correct_token"] and row["predictions"] == []
    assert {r["tag"] for r in annotations.search("me")} == {"geography", None, "animals"}

    second = tmp_path / "second.csv"  # a later [MASK], and a row for another preset
    second.write_text("text,correct_token,mask_ordinal\n"
                      "The [MASK] sat on the [MASK].,mat,1\n", encoding="utf-8")
    annotations.import_file("me", str(second))
    row = annotations.search("me", query="mat")[0]
    assert row["mask_index"] == model.predict(row["text"], 1)["masks"][1]["index"]
    other = tmp_path / "other.csv"
    other.write_text("text,preset\nThe sky is [MASK].,albert_base_en_uncased\n")
    with pytest.raises(AnnotationError, match="line 2: mask_index is missing"):
        annotations.import_file("me", str(other))


def test_full_format_still_needs_nothing_assumed(sqlite_store, tmp_path):
    annotations = service(sqlite_store, tmp_path)
    add(sqlite_store)
    path = annotations.export("me", "jsonl")
    assert annotations.import_file("again", path) == {"imported": 1}


def _deep(depth):
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("fmt,data,message", [
    ("jsonl", '{"text": "a [MASK]", "note": %s}' % _deep(100_000), "nested more than 8"),
    ("jsonl", '{"text": "a [MASK]", "note": %s}' % _deep(MAX_JSON_DEPTH), "nested more"),
    ("csv", 'preset,text,mask_index,predictions\np,a [MASK],1,"%s"\n' % _deep(50_000),
     "line 2: predictions: JSON is nested"),
    ("csv", ",".join(f"c{i}" for i in range(200_000)) + "\n", "line 1: 200,000 CSV columns"),
    ("jsonl", json.dumps({f"k{i}": 1 for i in range(100_000)}), "line 1: 100,000 fields"),
    ("csv", "text,mask_index,color,size,shape,smell,taste,sound\n", "and 1 more"),
])
def test_import_shape_limits_give_short_messages(fmt, data, message):
    with pytest.raises(AnnotationError, match=message) as error:
        parse_import(data.encode(), fmt, "me", max_bytes=5 << 20)
    assert len(str(error.value)) < 200, str(error.value)


@pytest.mark.parametrize("value", ["1.5", "1e3", "99999999999", "-1", "true", "2147483648"])
def test_imported_positions_are_whole_numbers_that_fit(value):
    data = f"preset,text,mask_index\np,a [MASK],{value}\n"
    with pytest.raises(AnnotationError, match="line 2: mask_index must be"):
        parse_import(data.encode(), "csv", "me", max_bytes=1 << 20)
    for number in (1.5, 1e300, True, 2**31):
        line = json.dumps({"preset": "p", "text": "a [MASK]", "mask_index": number})
        with pytest.raises(AnnotationError, match="line 1: mask_index must be"):
            parse_import(line.encode(), "jsonl", "me", max_bytes=1 << 20)


def test_limits_keep_real_files_working(store):
    """On both backends: a record at the depth and width an export writes imports."""
    add(store)
    mine = dict(session_id="me")
    assert store.import_file(store.export_jsonl(**mine).encode(), "jsonl", "bob") == 1
    assert store.import_file(store.export_csv(**mine).encode(), "csv", "bob") == 1


# ----------------------------------------------------------------- evaluate
def test_skip_summary_says_why():
    assert skip_summary({}) == ""
    assert skip_summary({"wrong_without_word": 2}) == \
        "2 rows have no right word (marked wrong without a correction)"
    text = skip_summary({"wrong_without_word": 1, "not_judged": 2, "repeated": 1})
    assert text == ("3 rows have no right word (1 marked wrong without a correction, "
                    "2 neither judged nor given a right word); 1 row repeats another row "
                    "(same text and right word)")


def test_evaluate_says_why_masks_were_skipped(sqlite_store, tmp_path, cache):
    annotations = service(sqlite_store, tmp_path, cache)
    evaluation = EvaluationService(annotations.predictions, annotations)
    words = ["paris", "london", "rome", "berlin", "madrid", "vienna", "oslo", "lisbon"]
    for n, word in enumerate(words):
        add(sqlite_store, text=f"Row {n}: the city is [MASK].", correct_token=word)
    for n in range(2):
        add(sqlite_store, text=f"Wrong {n} [MASK].", correct_token=None)
    score, = evaluation.evaluate("me", [EMBEDDED_PRESET])
    assert (score["items"], score["rows"], score["skipped"]) == (8, 10, 2)
    assert score["reasons"] == {"wrong_without_word": 2}
    assert summary(score) == ("8 masks from 10 rows: 2 rows have no right word (marked "
                              "wrong without a correction)")
    add(sqlite_store, session="new", correct_token=None)
    with pytest.raises(InputError, match=r"No annotated masks .*\(1 row has no right word "
                                         r"\(marked wrong without a correction\)\)"):
        evaluation.evaluate("new", [EMBEDDED_PRESET])


def test_evaluate_offers_the_persons_finetuned_models(tmp_path):
    from albert_demo.finetune.registry import FinetunedRegistry, owner_key
    from albert_demo.services import PredictionService

    folder = tmp_path / "finetuned" / owner_key("alice") / "mine"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    predictions = PredictionService(cache=None, finetuned=FinetunedRegistry(tmp_path))
    evaluation = EvaluationService(predictions, annotations=None)
    assert evaluation.preset_names("alice") == ["finetuned/mine"]
    assert evaluation.preset_names("bob") == [] and evaluation.preset_names(None) == []


# ------------------------------------------------------------------- export
def test_exports_leave_nothing_in_the_temp_folder(sqlite_store, tmp_path, monkeypatch):
    temp = tmp_path / "system-tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    annotations = service(sqlite_store, tmp_path)
    add(sqlite_store)
    paths = [annotations.export("me", fmt) for fmt in ("csv", "jsonl", "hf-dataset")]
    with pytest.raises(AnnotationError, match="nothing to export"):
        annotations.export("nobody", "hf-dataset")
    assert list(temp.iterdir()) == []
    exports = tmp_path / "exports"
    assert all(os.path.isfile(p) and str(p).startswith(str(exports)) for p in paths)
    assert len(list(exports.iterdir())) == 3  # the failed export left no folder

    # Older than keep_s: swept by the next export (and by the timer).
    old = time.time() - annotations.exports.keep_s - 1
    for folder in exports.iterdir():
        os.utime(folder, (old, old))
    annotations.export("me", "csv")
    assert len(list(exports.iterdir())) == 1
    assert annotations.exports.sweep(keep_s=0) == 0 and list(exports.iterdir()) == []
