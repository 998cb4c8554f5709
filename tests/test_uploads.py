"""One reading of uploaded files (albert_demo/uploads.py) for annotation imports,
fine-tuning texts and campaign sources: the same checks and the same messages."""

import io
import json

import pytest

from albert_demo.uploads import (UploadError, decode_text, jsonl_objects, parse_json,
                                 read_bytes)


def test_text_is_utf8_with_its_bom_dropped():
    assert decode_text("\ufeffCafé [MASK].\n".encode("utf-8")) == "Café [MASK].\n"


def test_binary_and_other_encodings_are_refused_with_the_line():
    with pytest.raises(UploadError, match="notes.txt looks like a binary file"):
        decode_text(b"PK\x03\x04\x00\x00", "notes.txt")
    with pytest.raises(UploadError, match=r"line 3: notes.txt is not UTF-8 text \(byte 0xE9") \
            as refused:
        decode_text("a\nb\ncafé\n".encode("latin-1"), "notes.txt")
    assert refused.value.line == 3


def test_size_is_checked_before_reading_and_only_the_base_name_is_shown(tmp_path):
    path = tmp_path / "server" / "secret" / "big.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x" * 2000)
    with pytest.raises(UploadError, match="big.jsonl is too large: 2,000 bytes; uploads are "
                                          "limited to 1,000 bytes") as refused:
        read_bytes(path, 1000)
    assert str(tmp_path) not in str(refused.value)
    assert read_bytes(path, 2000) == (b"x" * 2000, str(path))
    stream = io.BytesIO(b"y" * 5000)
    with pytest.raises(UploadError, match="too large"):
        read_bytes(stream, 1000)
    assert stream.tell() == 1001  # read one byte past the limit, not the whole stream


def test_jsonl_lines_split_on_newline_only_and_name_their_line():
    inside = json.dumps({"text": "one\u2028line"}, ensure_ascii=False)
    text = f'{inside}\n\n  \n{{"text": "two"}}\r\n'
    assert list(jsonl_objects(text)) == [(1, {"text": "one\u2028line"}), (4, {"text": "two"})]
    with pytest.raises(UploadError, match=r"line 2: invalid JSON \(.*one JSON object"):
        list(jsonl_objects('{"text": "a"}\n{broken\n'))
    with pytest.raises(UploadError, match="line 1: expected a JSON object"):
        list(jsonl_objects('["a list"]\n'))


def test_json_depth_is_bounded_without_recursion():
    deep = "[" * 9 + "]" * 9
    assert parse_json(deep, 1) == [[[[[[[[[]]]]]]]]]
    with pytest.raises(UploadError, match="line 5: note: JSON is nested more than 8 levels"):
        parse_json(deep, 5, max_depth=8, what="note: ")
    with pytest.raises(UploadError, match="line 1: JSON is nested too deeply"):
        parse_json("[" * 100_000 + "]" * 100_000, 1)


def test_annotations_fine_tuning_and_campaigns_say_the_same_about_a_binary_file(tmp_path):
    from albert_demo.annotations.formats import parse_import
    from albert_demo.annotations.validation import AnnotationError
    from albert_demo.campaigns.errors import CampaignError
    from albert_demo.campaigns.sources import read_file
    from albert_demo.finetune.data import FinetuneDataError, read_upload

    binary = b"\x89PNG\r\n\x1a\n\x00\x00"
    path = tmp_path / "picture.jsonl"
    path.write_bytes(binary)
    with pytest.raises(AnnotationError) as annotations:
        parse_import(path, None, "bob", max_bytes=1000)
    with pytest.raises(FinetuneDataError) as finetune:
        read_upload(path)
    with pytest.raises(CampaignError) as campaigns:
        read_file(path)
    assert str(annotations.value) == str(finetune.value) == str(campaigns.value) == (
        "picture.jsonl looks like a binary file (it contains NUL bytes). Upload plain UTF-8 "
        "text.")
