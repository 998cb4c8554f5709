"""One rule for every variable the server reads (albert_demo/settings.py): unset or blank
is the default, a usable value is used, and a value that cannot be used stops the server at
start with the variable's name, the value and what is accepted."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from albert_demo import settings
from albert_demo.settings import Settings, SettingError

ROOT = Path(__file__).resolve().parents[1]

NUMBERS = ["ALBERT_DEMO_MAX_DOWNLOAD_BYTES", "ALBERT_DEMO_CACHE_BYTES", "ALBERT_DEMO_MAX_CHARS",
           "ALBERT_DEMO_MAX_MASKS", "ALBERT_DEMO_MAX_TOP_K", "ALBERT_DEMO_MAX_ATTENTION_VALUES",
           "ALBERT_DEMO_MAX_UPLOAD_BYTES", "ALBERT_DEMO_FINETUNE_MAX_STEPS",
           "ALBERT_DEMO_FINETUNE_MAX_SECONDS", "ALBERT_DEMO_MAX_CONCURRENT_TRAININGS",
           "ALBERT_DEMO_TRAINING_YIELD", "ALBERT_DEMO_FINETUNE_MEMORY_BYTES",
           "ALBERT_DEMO_CONCURRENCY", "ALBERT_DEMO_QUEUE_STATUS_SECONDS"]
UNUSABLE = [(name, value) for name in NUMBERS for value in ("abc", "-1", "nan", "inf")] + [
    ("ALBERT_DEMO_MAX_CHARS", "2.5"),                 # a count is a whole number
    ("ALBERT_DEMO_MAX_TOP_K", "0"),
    ("ALBERT_DEMO_FINETUNE_ISOLATION", "threads"),    # used to become "process" silently
    ("ALBERT_DEMO_SERVING_DTYPE", "int4"),
    ("ALBERT_DEMO_PRESET_SOURCE", "github"),
    ("ALBERT_DEMO_KAGGLE_HANDLES", "some"),
    ("ALBERT_DEMO_SHARE_FINETUNED", "maybe"),
    ("ALBERT_DEMO_DATA_PARALLEL", "2"),
]


@pytest.mark.parametrize("name, value", UNUSABLE)
def test_a_value_that_cannot_be_used_is_refused_with_name_value_and_what_is_accepted(
        name, value):
    with pytest.raises(SettingError) as refused:
        Settings.from_env({name: value})
    message = str(refused.value)
    assert name in message and repr(value) in message and "accepted:" in message
    assert refused.value.name == name


def test_usable_values_are_used_and_blank_means_default():
    env = {"ALBERT_DEMO_MAX_DOWNLOAD_BYTES": "2e9", "ALBERT_DEMO_MAX_CHARS": " 300 ",
           "ALBERT_DEMO_TRAINING_YIELD": "0", "ALBERT_DEMO_FINETUNE_MAX_SECONDS": "90.5",
           "ALBERT_DEMO_FINETUNE_ISOLATION": "Thread", "ALBERT_DEMO_DATA_PARALLEL": "off",
           "ALBERT_DEMO_SHARE_FINETUNED": "yes", "ALBERT_DEMO_SERVING_DTYPE": "mixed_bfloat16",
           "ALBERT_DEMO_PRESET_SOURCE": "kaggle", "ALBERT_DEMO_KAGGLE_HANDLES": "official",
           "ALBERT_DEMO_QUEUE_STATUS_SECONDS": "0", "ALBERT_DEMO_CONCURRENCY": "8",
           "ALBERT_DEMO_MAX_MASKS": ""}
    s = Settings.from_env(env)
    assert (s.max_download_bytes, s.max_chars, s.training_yield, s.finetune_max_seconds) == (
        2_000_000_000, 300, 0.0, 90.5)
    assert (s.finetune_isolation, s.data_parallel, s.share_finetuned) == ("thread", False, True)
    assert (s.serving_dtype, s.preset_source, s.official_kaggle_only) == (
        "mixed_bfloat16", "kaggle", True)
    assert (s.queue_status_rate(), s.concurrency, s.max_masks) == ("auto", 8, Settings().max_masks)
    assert Settings.from_env({}) == Settings()


def test_the_environment_is_read_once_not_on_every_call(monkeypatch):
    monkeypatch.setitem(os.environ, "ALBERT_DEMO_MAX_CHARS", "300")
    settings.reset()
    first = settings.current()
    os.environ["ALBERT_DEMO_MAX_CHARS"] = "400"  # changed behind the library's back
    assert settings.current() is first and first.max_chars == 300
    settings.reset()
    assert settings.current().max_chars == 400


def test_the_server_stops_at_start_on_an_unusable_value(tmp_path):
    env = {**os.environ, "ALBERT_DEMO_DATA_DIR": str(tmp_path),
           "ALBERT_DEMO_FINETUNE_ISOLATION": "threads", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "app.py", "--port", "9"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "ALBERT_DEMO_FINETUNE_ISOLATION='threads'" in done.stderr
    assert "process, thread" in done.stderr
    assert "Running on" not in done.stdout + done.stderr
