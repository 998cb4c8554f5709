"""Presets side by side: divergences against scipy, ranks and overlaps against a plain
recomputation from each preset's full distribution, vocabularies that differ."""

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr

from albert_demo.engine.errors import InputError
from albert_demo.explain import compare, parse_presets
from albert_demo.explain.compare import js_divergence, kl_divergence

TEXT = "the quick brown [MASK] jumped over the [MASK] dog ."


def test_divergences_match_scipy():
    rng = np.random.default_rng(0)
    for _ in range(5):
        p, q = rng.dirichlet(np.ones(50) * 0.3), rng.dirichlet(np.ones(50) * 0.3)
        assert kl_divergence(p, q) == pytest.approx(rel_entr(p, q).sum(), rel=1e-10)
        assert js_divergence(p, q) == pytest.approx(jensenshannon(p, q) ** 2, rel=1e-8)
        assert js_divergence(p, q) <= np.log(2)
    p = np.array([0.5, 0.5, 0.0])
    assert kl_divergence(p, p) == 0.0
    assert kl_divergence(p, [0.25, 0.25, 0.5]) == pytest.approx(np.log(2))


def test_compare_two_presets(tiny_predictor, tiny_predictor_b):
    predictors = {"a": tiny_predictor, "b": tiny_predictor_b}
    result = compare(TEXT, predictors, top_k=5)
    assert result["presets"] == ["a", "b"] and result["same_vocabulary"]
    assert len(result["masks"]) == 2
    full = {name: p.distributions(TEXT)["probs"] for name, p in predictors.items()}
    for m, mask in enumerate(result["masks"]):
        for name, predictor in predictors.items():
            expected = predictor.predict(TEXT, top_k=5)["masks"][m]["predictions"]
            assert [r["token_id"] for r in mask["predictions"][name]] == [
                e["token_id"] for e in expected]
        reference = full["a"][m]
        order = list(np.argsort(-reference, kind="stable"))
        for row in mask["predictions"]["b"]:
            assert row["rank_in_reference"] == order.index(row["token_id"]) + 1
            assert row["rank_change"] == row["rank_in_reference"] - row["rank"]
        (pair,) = mask["pairs"]
        p, q = full["a"][m], full["b"][m]
        assert pair["kl_ab"] == pytest.approx(rel_entr(p, q).sum(), rel=1e-9)
        assert pair["kl_ba"] == pytest.approx(rel_entr(q, p).sum(), rel=1e-9)
        assert pair["js"] == pytest.approx(jensenshannon(p, q) ** 2, rel=1e-6)
        top_a = {r["token_id"] for r in mask["predictions"]["a"]}
        top_b = {r["token_id"] for r in mask["predictions"]["b"]}
        assert pair["overlap_at_k"] == len(top_a & top_b) / 5
        assert pair["jaccard"] == len(top_a & top_b) / len(top_a | top_b)


def test_a_preset_against_itself(tiny_predictor):
    result = compare(TEXT, {"x": tiny_predictor, "y": tiny_predictor}, top_k=3)
    for mask in result["masks"]:
        (pair,) = mask["pairs"]
        assert pair["kl_ab"] == 0.0 and pair["js"] == 0.0 and pair["overlap_at_k"] == 1.0
        assert all(r["rank_change"] == 0 for r in mask["predictions"]["y"])


def test_different_vocabularies_skip_divergences(tiny_predictor):
    from albert_demo.engine import MaskPredictor
    from explain_helpers import tiny_masked_lm
    from model_helpers import english_sentences, train_spm
    other = tiny_masked_lm(seed=2, spm_proto=train_spm(english_sentences(300, seed=3), 150))
    assert other.preprocessor.tokenizer.get_vocabulary() != (
        tiny_predictor.tokenizer.get_vocabulary())
    result = compare(TEXT, {"a": tiny_predictor, "c": MaskPredictor(other, "c")}, top_k=4)
    assert not result["same_vocabulary"] and "different vocabularies" in result["note"]
    for mask in result["masks"]:
        assert mask["pairs"][0]["js"] is None and mask["pairs"][0]["kl_ab"] is None
        assert 0 <= mask["pairs"][0]["overlap_at_k"] <= 1
        for row in mask["predictions"]["c"]:  # ranks looked up by piece text
            assert row["rank_in_reference"] is None or row["rank_in_reference"] >= 1


@pytest.mark.parametrize("presets, message", [
    ("only-one", "2 to 3"), (["a", "a"], "2 to 3"), ("a,b,c,d", "2 to 3"), (5, "preset names"),
])
def test_parse_presets_errors(presets, message):
    with pytest.raises(InputError, match=message):
        parse_presets(presets)


def test_parse_presets():
    assert parse_presets(" a, b ,a") == ["a", "b"]
    assert parse_presets(["a", "b", "c"]) == ["a", "b", "c"]


def test_compare_bad_top_k(tiny_predictor, tiny_predictor_b):
    with pytest.raises(InputError, match="top_k"):
        compare(TEXT, {"a": tiny_predictor, "b": tiny_predictor_b}, top_k=0)
