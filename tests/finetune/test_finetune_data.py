"""Uploads: plain text, CSV and JSONL parsing, and clear messages for unusable files."""

import json

import pytest

from albert_demo.finetune.data import (FinetuneDataError, preview, read_upload,
                                       split_passages)


def test_lines_or_paragraphs_are_detected(tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text("First passage.\nSecond passage.\nThird passage.\n")
    assert read_upload(lines).passages() == ["First passage.", "Second passage.",
                                             "Third passage."]
    spaced = tmp_path / "spaced.txt"  # blank lines between single lines: still lines
    spaced.write_text("First passage.\n\nSecond passage.\n\n")
    assert read_upload(spaced).passages() == ["First passage.", "Second passage."]
    paragraphs = tmp_path / "notes.md"
    paragraphs.write_text("One paragraph\nwrapped over lines.\n\n\nAnother\none.\n")
    assert read_upload(paragraphs).passages() == ["One paragraph wrapped over lines.",
                                                  "Another one."]


def test_bom_is_accepted():
    upload = read_upload("\ufeffCafé au lait.\n".encode("utf-8"), "bom.txt")
    assert upload.passages() == ["Café au lait."]


def test_csv_columns_and_choice():
    raw = b'id,title,text\n1,A,"The court, at last, heard it."\n2,B,The jury agreed.\n3,C,\n'
    upload = read_upload(raw, "data.csv")
    assert upload.columns == ["id", "title", "text"] and upload.default_column == "text"
    assert upload.passages() == ["The court, at last, heard it.", "The jury agreed."]
    assert upload.passages("title") == ["A", "B", "C"]
    with pytest.raises(FinetuneDataError, match="no column 'body'.*'id', 'title', 'text'"):
        upload.passages("body")


def test_jsonl_fields():
    raw = "\n".join(json.dumps(r) for r in [{"n": 1, "content": "One."},
                                             {"content": "Two.", "label": "x"}]).encode()
    upload = read_upload(raw, "data.jsonl")
    assert upload.columns == ["content", "label"] and upload.default_column == "content"
    assert upload.passages() == ["One.", "Two."]


@pytest.mark.parametrize("raw, name, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "picture.txt", "binary file"),
    ("caf\u00e9 cr\u00e8me\n".encode("latin-1"), "latin.txt",
     r"line 1: latin.txt is not UTF-8 text \(byte 0xE9 .*Save the file as UTF-8"),
    (b"", "empty.txt", "is empty"),
    (b"  \n\n \n", "blank.md", "is empty"),
    (b"a,b\n1,2\n", "table.csv", "Choose the text column; its text columns are: 'a', 'b'"),
    (b'{"text": "ok"}\n{"text": "ok"}\n{"text": broken}\n', "rows.jsonl",
     r"rows.jsonl: line 3: invalid JSON \(.*\); each line must be one JSON object"),
    (b'{"text": "ok"}\n["a list"]\n', "rows.jsonl", "rows.jsonl: line 2: expected a JSON object"),
    (b'{"n": 1}\n', "rows.jsonl", "no line has a text field"),
    (b"a,b\n1,\"unterminated\n", "bad.csv", "malformed CSV on line"),
    (b"text", "slides.pdf", "unsupported file type '.pdf'"),
])
def test_bad_uploads_get_clear_messages(raw, name, message):
    with pytest.raises(FinetuneDataError, match=message):
        read_upload(raw, name).passages()


def test_too_large(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBERT_DEMO_MAX_UPLOAD_BYTES", "1000")
    big = tmp_path / "big.txt"
    big.write_text("word " * 400)
    with pytest.raises(FinetuneDataError, match="2,000 bytes; uploads are limited to 1,000"):
        read_upload(big)
    with pytest.raises(FinetuneDataError, match="limited to 1,000 bytes"):
        read_upload(b"x" * 1001, "big.txt")


def test_split_is_deterministic_and_preview_counts():
    from albert_demo import AlbertTokenizer
    passages = [f"Passage number {i}." for i in range(20)]
    train, valid = split_passages(passages, 0.1, seed=3)
    assert (train, valid) == split_passages(passages, 0.1, seed=3)
    assert len(valid) == 2 and sorted(train + valid) == sorted(passages)
    assert split_passages(passages, 0.1, seed=4) != (train, valid)
    with pytest.raises(FinetuneDataError, match="too few"):
        split_passages(["only one"], 0.1)
    tokenizer = AlbertTokenizer.from_preset("albert_tiny_en_uncased")
    counts = preview(passages + ["word " * 200], tokenizer, 0.1, sequence_length=32)
    assert counts["passages"] == 21 and counts["train_passages"] + counts[
        "valid_passages"] == 21
    assert counts["tokens"] == counts["train_tokens"] + counts["valid_tokens"] > 200
    assert counts["truncated_passages"] == 1


def test_preview_counts_repeated_passages_as_often_as_they_occur():
    """One vocabulary of figures: tokens is the sum of the two splits' tokens even when a
    line repeats, and the validation's masked tokens are stated and explained."""
    from albert_demo import AlbertTokenizer
    tokenizer = AlbertTokenizer.from_preset("albert_tiny_en_uncased")
    passages = ["The same line again."] * 12 + [f"Passage number {i}." for i in range(8)]
    counts = preview(passages, tokenizer, 0.1, sequence_length=32)
    assert counts["tokens"] == counts["train_tokens"] + counts["valid_tokens"]
    assert counts["tokens"] == sum(len(ids) for ids in tokenizer(passages))
    assert counts["valid_masked_tokens_about"] == round(0.15 * counts["valid_tokens"])
    assert "valid_masked_tokens_about" in counts["what_these_count"]
    assert "at random" in counts["what_these_count"]


def zip_bomb(megabytes=20):
    """A real compression bomb: megabytes of zeros in a zip of a few tens of KB."""
    import io
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.txt", b"\0" * (megabytes << 20))
    return buffer.getvalue()


@pytest.mark.parametrize("name, message", [
    ("bomb.zip", "unsupported file type '.zip'"),
    ("bomb.txt", "binary file"),     # renamed: still never unpacked
    ("bomb.jsonl", "binary file"),
])
def test_archives_are_refused_without_being_unpacked(name, message):
    import tracemalloc
    bomb = zip_bomb()
    assert len(bomb) < 200_000
    tracemalloc.start()
    with pytest.raises(FinetuneDataError, match=message):
        read_upload(bomb, name).passages()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5 * len(bomb), peak  # nothing near the 20 MB inside was allocated
