"""Fine-tune settings are checked against an estimate of their peak memory before a run
starts: the estimate against a measured run, the refusal and its numbers."""

import json
import sys
from pathlib import Path

import pytest

from finetune_helpers import domain_sentences, fast_settings

from albert_demo.finetune import FinetuneSettings, TrainingQueue
from albert_demo.finetune.memory import (MARGIN, FinetuneMemoryError, ModelShape,
                                         check_memory, estimate_memory, read_config)
from albert_demo.presets.registry import ASSETS_DIR, EMBEDDED_PRESET

ROOT = Path(__file__).resolve().parents[2]
EMBEDDED = read_config(ASSETS_DIR / EMBEDDED_PRESET)
# albert_base_en_uncased (albert-base-v2), in Hugging Face's names.
BASE_HF = {"vocab_size": 30000, "embedding_size": 128, "hidden_size": 768,
           "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
           "num_hidden_groups": 1, "inner_group_num": 1, "max_position_embeddings": 512,
           "type_vocab_size": 2}


def test_parameter_count_from_the_config_is_the_models(tiny_preset):
    from albert_demo import AlbertMaskedLM
    for folder in (ASSETS_DIR / EMBEDDED_PRESET, Path(tiny_preset)):
        model = AlbertMaskedLM.from_preset(str(folder))
        assert ModelShape.from_config(read_config(folder)).parameters == model.count_params()
    head = (768 * 128 + 128) + 2 * 128 + 30000  # dense, layer norm, output bias (tied)
    assert ModelShape.from_config(BASE_HF).parameters == 11_683_584 + head  # official count


def test_estimate_grows_with_batch_and_quadratically_with_length():
    def activations(batch, length):
        return estimate_memory(EMBEDDED, batch, length).activations
    assert activations(16, 128) == 2 * activations(8, 128)
    per_token_short = activations(8, 64) / (8 * 64)
    per_token_long = activations(8, 512) / (8 * 512)
    assert per_token_long > 1.5 * per_token_short  # attention scores grow with length
    assert estimate_memory(BASE_HF, 8, 128).total > estimate_memory(EMBEDDED, 8, 128).total


def test_too_much_is_refused_with_the_numbers():
    settings = FinetuneSettings(batch_size=32, sequence_length=512).checked()
    with pytest.raises(FinetuneMemoryError) as info:
        check_memory(settings, EMBEDDED, budget=4e9)
    message = str(info.value)
    need = estimate_memory(EMBEDDED, 32, 512).total
    assert f"Batch 32 × 512 tokens needs about {need / 1e9:.1f} GB" in message
    assert "this server allows 4.0 GB" in message
    assert "ALBERT_DEMO_FINETUNE_MEMORY_BYTES" in message
    fits = int(message.split("(batch ")[1].split()[0])
    assert estimate_memory(EMBEDDED, fits, 512).total <= 4e9
    assert estimate_memory(EMBEDDED, fits + 1, 512).total > 4e9
    with pytest.raises(FinetuneMemoryError, match="too large to fine-tune here"):
        check_memory(settings, EMBEDDED, budget=1e6)


def test_the_defaults_fit_the_default_budget():
    assert FinetuneSettings().checked().batch_size == 8
    for config in (EMBEDDED, BASE_HF):
        assert check_memory(FinetuneSettings().checked(), config) < 4e9


def test_the_service_refuses_before_any_work(tiny_preset, tmp_path, monkeypatch):
    from albert_demo.finetune.service import FinetuneService
    monkeypatch.setenv("ALBERT_DEMO_FINETUNE_MEMORY_BYTES", "1e6")
    upload = tmp_path / "t.txt"
    upload.write_text("\n".join(domain_sentences(40)))
    service = FinetuneService(tmp_path, queue=TrainingQueue(1), extra_bases=[tiny_preset])
    with pytest.raises(FinetuneMemoryError, match="this server allows 0.0 GB"):
        service.start("s1", fast_settings(tiny_preset), str(upload))
    assert service.job("s1") is None and service.status("s1")["status"] == "idle"


def test_a_job_started_directly_is_refused_before_training(tiny_preset, tmp_path,
                                                           monkeypatch):
    from albert_demo.finetune import FinetuneJob
    monkeypatch.setenv("ALBERT_DEMO_FINETUNE_MEMORY_BYTES", "1e6")
    snap = FinetuneJob(fast_settings(tiny_preset), domain_sentences(40), "o", tmp_path,
                       queue=TrainingQueue(1)).start().wait(timeout=120)
    assert snap["status"] == "failed" and "needs about" in snap["error"]
    assert snap["step"] == 0 and snap["history"] == []


def test_the_estimate_holds_for_a_measured_run():
    """A whole run in a fresh process (benchmarks/finetune_memory.py): the estimate is
    above the measured peak, and without its safety margin within that margin of it."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from finetune_memory import measure
    row = measure("tiny", 8, 128, timeout=600)
    measured, estimate = row["added_mb"] * 2**20, row["estimate_mb"] * 2**20
    assert measured <= estimate, json.dumps(row)
    assert abs(estimate / MARGIN - measured) <= (MARGIN - 1) * measured, json.dumps(row)
