"""Export / import (CSV, JSONL, Hugging Face layout) on both backends."""

from __future__ import annotations

import json

import pytest

from albert_demo.annotations import AnnotationError

PREDS = [
    {"token": "\u2581capital", "token_id": 1234, "score": 0.81},
    {"token": "\u2581city", "token_id": 567, "score": 0.0700000001},
]
COMPARED = ("created_at", "updated_at", "preset", "text", "mask_index", "mask_ordinal",
            "predictions", "verdict", "correct_token", "tag", "note")


def seed(store, session_id="alice"):
    texts = [
        "Paris is the [MASK] of France.",
        "Emoji 👩‍👩‍👧 [MASK] 😀, RTL مرحبا [MASK]",
        'Commas, "quotes"\nand newlines\t[MASK] <b>html</b> &amp;',
        "=HYPERLINK(\"x\") [MASK] \u2028 line-sep inside",
    ]
    out = []
    for i, t in enumerate(texts):
        out.append(store.add(
            session_id=session_id, preset=f"preset_{i % 2}", text=t, mask_index=i,
            mask_ordinal=1 if "RTL" in t else 0, predictions=PREDS,
            verdict=[None, "right", "wrong", "right"][i],
            correct_token=["", None, "and", None][i], tag=["geo", None, "x,y", "🏷️"][i],
            note=[None, "ñ note", 'multi\nline "note"', ""][i],
        ))
    return out


def fields(a):
    return {k: getattr(a, k) for k in COMPARED}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_import_round_trip(store, fmt, tmp_path):
    src = seed(store)
    data = store.export_csv(session_id="alice") if fmt == "csv" else store.export_jsonl(session_id="alice")
    assert "alice" not in data  # session ids are never exported
    # bytes input
    assert store.import_file(data.encode("utf-8"), fmt, "bob") == len(src)
    # path input, format inferred from the suffix
    path = tmp_path / f"export.{fmt}"
    path.write_text(data, encoding="utf-8")
    assert store.import_file(path, None, "carol") == len(src)
    for who in ("bob", "carol"):
        got = store.search(session_id=who)  # newest first, like the export
        assert [fields(a) for a in got] == [fields(a) for a in reversed(src)]
    assert store.count() == 3 * len(src)


def test_csv_cells_never_start_a_formula_and_round_trip(store):
    import csv
    import io
    texts = ["=1+1 [MASK]", "+x [MASK]", "-y [MASK]", "@SUM(A1) [MASK]", "\tz [MASK]",
             "'quoted [MASK]", "''=both [MASK]", "plain [MASK]"]
    for n, text in enumerate(texts):
        store.add(session_id="alice", preset="p", text=text, mask_index=1, predictions=PREDS,
                  note="=cmd|' /C calc'!A0" if n == 0 else None, tag="-tag" if n == 1 else None)
    data = store.export_csv(session_id="alice")
    for row in list(csv.reader(io.StringIO(data)))[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row), row
    assert store.import_file(data.encode(), "csv", "bob") == len(texts)
    assert sorted(a.text for a in store.search(session_id="bob")) == sorted(texts)
    got = {a.text: (a.note, a.tag) for a in store.search(session_id="bob")}
    assert got["=1+1 [MASK]"][0] == "=cmd|' /C calc'!A0" and got["+x [MASK]"][1] == "-tag"


def test_export_uses_filters_and_rows(store):
    rows = seed(store)
    store.add(session_id="bob", preset="p", text="bob [MASK]", mask_index=1)
    lines = store.export_jsonl(tag="geo").splitlines()
    assert [json.loads(x)["id"] for x in lines] == [rows[0].id]
    assert len(store.export_jsonl().split("\n")) - 1 == 5
    assert store.export_csv(rows=rows[:2]).count("preset_") == 2


def _jsonl_lines(n=5):
    return [json.dumps({"preset": "p", "text": f"row {i} [MASK]", "mask_index": i,
                        "predictions": PREDS, "verdict": "right"}, ensure_ascii=False)
            for i in range(n)]


@pytest.mark.parametrize(
    "bad,msg",
    [
        ('{"preset": "p", "text": "broken [MASK]", ', "invalid JSON"),
        (json.dumps({"preset": "p", "text": "x [MASK]", "mask_index": 0, "note": "n" * 2001}),
         "note is too long"),
        (json.dumps({"preset": "p", "text": "no mask", "mask_index": 0}), "must contain"),
        (json.dumps({"preset": "p", "text": "x [MASK]", "mask_index": 0, "evil": 1}), "unknown field"),
        (json.dumps({"preset": "p", "text": "x [MASK]", "mask_index": 0,
                     "note": "\ud800"}, ensure_ascii=True), "lone surrogate"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_malformed_jsonl_line3(store, bad, msg):
    store.add(session_id="alice", preset="p", text="keep [MASK]", mask_index=0)
    lines = _jsonl_lines()
    lines[2] = bad
    with pytest.raises(AnnotationError, match=msg) as ei:
        store.import_file("\n".join(lines).encode(), "jsonl", "bob")
    assert "line 3" in str(ei.value) and ei.value.line == 3
    assert store.count() == 1  # nothing half-imported


def test_malformed_csv_line3(store):
    csv_text = store.export_csv(rows=[])  # header only
    good = 'p,row [MASK],1,0,"[]",right,,,'
    header = "preset,text,mask_index,mask_ordinal,predictions,verdict,correct_token,tag,note"
    assert csv_text.startswith("id,")
    rows = [header, good, 'p,bad [MASK],1,0,"[]",perhaps,,,', good, good]
    with pytest.raises(AnnotationError, match=r"line 3: verdict") as ei:
        store.import_file("\n".join(rows).encode(), "csv", "bob")
    assert ei.value.line == 3
    # A quoted multi-line field shifts physical line numbers; we report those.
    rows = [header, 'p,"multi\nline [MASK]",1,0,"[]",,,,', good, 'p,x [MASK],notint,0,"[]",,,,']
    with pytest.raises(AnnotationError, match=r"line 5: mask_index must be an integer"):
        store.import_file("\n".join(rows).encode(), "csv", "bob")
    with pytest.raises(AnnotationError, match="line 1: unknown CSV column"):
        store.import_file(b"preset,text,mask_index,secret\n", "csv", "bob")
    with pytest.raises(AnnotationError, match="line 2: expected 9 columns"):
        store.import_file(f"{header}\np,x [MASK]\n".encode(), "csv", "bob")
    assert store.count() == 0
    assert store.import_file("\n".join([header, good, good]).encode(), "csv", "bob") == 2


def test_import_rejects_binary_oversize_and_bad_format(store, tmp_path):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    with pytest.raises(AnnotationError, match="binary"):
        store.import_file(png, "csv", "bob")
    import io
    import zipfile
    bomb = io.BytesIO()  # 20 MB of zeros in a ~20 KB zip: refused, never unpacked
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("rows.jsonl", b"\0" * (20 << 20))
    for fmt in ("jsonl", "csv"):
        with pytest.raises(AnnotationError, match="binary"):
            store.import_file(bomb.getvalue(), fmt, "bob")
    with pytest.raises(AnnotationError, match=r"line 2: .*not UTF-8 text \(byte 0xE9"):
        store.import_file('preset,text,mask_index\np,caf\xe9 [MASK],0\n'.encode("latin-1"), "csv", "bob")
    big = ("\n".join(_jsonl_lines(1)) + "\n") * 200
    with pytest.raises(AnnotationError, match="too large"):
        store.import_file(big.encode(), "jsonl", "bob", max_bytes=1000)
    p = tmp_path / "big.jsonl"
    p.write_text(big)
    with pytest.raises(AnnotationError, match="too large"):
        store.import_file(p, "jsonl", "bob", max_bytes=1000)
    with pytest.raises(AnnotationError, match="unsupported import format"):
        store.import_file(b"{}", "xml", "bob")
    assert store.count() == 0
    assert store.import_file(p, "jsonl", "bob") == 200  # default limit: 5 MB
    assert store.import_limit_bytes == 5 * 1024 * 1024


def test_hf_dataset_layout(store, tmp_path):
    with pytest.raises(AnnotationError, match="nothing to export"):
        store.export_hf_dataset(tmp_path / "empty")
    src = seed(store)
    out = store.export_hf_dataset(tmp_path / "hf")
    data = (out / "data" / "train.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(x) for x in data.split("\n") if x]
    assert len(rows) == len(src) and {r["text"] for r in rows} == {a.text for a in src}
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("---\n")
    front = readme.split("---\n")[1]
    try:
        import yaml
    except ImportError:
        assert "configs:" in front and "path: data/train.jsonl" in front
    else:
        meta = yaml.safe_load(front)
        assert meta["configs"] == [{"config_name": "default", "data_files": [
            {"split": "train", "path": "data/train.jsonl"}]}]
        # Explicit features, so all-null columns still load as strings.
        assert [f["name"] for f in meta["dataset_info"]["features"]] == list(rows[0])
    try:
        import datasets
    except ImportError:
        return
    ds = datasets.load_dataset(str(out), split="train")
    assert ds.num_rows == len(src)
    assert sorted(ds["text"]) == sorted(a.text for a in src)
