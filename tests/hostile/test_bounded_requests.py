"""One request cannot take more than its share: attention replies are bounded before they
are built, one preset folder loads once however it is spelled, and compiled programs count
against the cache's memory bound."""

import numpy as np
import pytest

from albert_demo.engine import InputError, ModelCache
from albert_demo.engine.model_cache import PROGRAM_BYTES
from albert_demo.presets.registry import EMBEDDED_PRESET, all_presets
from tests.harness.services import build_services

LONG_TEXT = "The [MASK] sat on the mat. " + "a " * 500  # ~508 tokens, under 2,000 chars


@pytest.fixture(scope="module")
def predictions():
    return build_services(ModelCache()).predictions


def test_everything_at_512_tokens_is_refused_with_the_numbers(predictions, monkeypatch):
    with pytest.raises(InputError, match=r"6 layer\(s\) × 6 head\(s\) × \d+² tokens = "
                                         r"[\d,]+ weights; this server returns at most "
                                         r"1,048,576"):
        predictions.attention(LONG_TEXT, EMBEDDED_PRESET, -1, -1)
    one = predictions.attention(LONG_TEXT, EMBEDDED_PRESET, 2, 3)  # one map at 512: fine
    n = len(one["tokens"])
    assert n > 256 and one["shape"] == [1, 1, n, n]
    np.testing.assert_allclose(np.asarray(one["attention"]).sum(-1), 1, atol=5e-3)
    monkeypatch.setenv("ALBERT_DEMO_MAX_ATTENTION_VALUES", "10")
    with pytest.raises(InputError, match="at most 10 per request"):
        predictions.attention("The [MASK] is blue.", EMBEDDED_PRESET, 0, 0)


def test_one_folder_loads_once_however_it_is_spelled(tmp_path):
    real = tmp_path / "real"
    real.symlink_to(all_presets()[EMBEDDED_PRESET].local_dir)
    loads = []
    cache = ModelCache(loader=lambda name, progress=None: loads.append(name) or
                       ModelCache._load(name))
    spellings = [str(real), str(tmp_path / "." / "." / "real"), f"{tmp_path}/x/../real",
                 str(real) + "/"]
    predictors = {id(cache.get(name)) for name in spellings}
    assert len(predictors) == 1 and len(loads) == 1 and len(cache.loaded()) == 1


def test_compiled_programs_count_against_the_memory_bound():
    cache = ModelCache()
    predictor = cache.get(EMBEDDED_PRESET)
    before, traces = cache.size_of(predictor), predictor.compiled.trace_count
    predictor.predict("The sky is [MASK]. " * 20, 3)  # a longer bucket: a new program
    assert predictor.compiled.trace_count > traces
    grown = cache.size_of(predictor) - before
    assert grown == (predictor.compiled.trace_count - traces) * PROGRAM_BYTES
