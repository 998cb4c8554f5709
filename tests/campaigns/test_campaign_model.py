"""With the real embedded model: "least sure" masking picks the words the model is least
confident about, and items show its top-k. Also a campaign from a datasets folder."""

import pytest

from albert_demo.annotations import AnnotationStore
from albert_demo.campaigns import CampaignService, masking
from albert_demo.engine import ModelCache
from tests.campaigns.conftest import OWNER, people

PRESET = "albert_tiny_en_uncased"
TEXT = "The children played in the park until the sun went down."


@pytest.fixture(scope="module")
def cache():
    return ModelCache()


def test_least_sure_masks_the_least_confident_word(cache, tmp_path):
    predictor = cache.get(PRESET)
    candidates = [m for m in masking.words(TEXT) if len(predictor.tokenizer(m.group())) == 1]
    variants = [masking.apply(TEXT, [m])[0] for m in candidates]
    scores = masking.confidence(predictor, variants, [m.group() for m in candidates])
    least = candidates[min(range(len(candidates)), key=lambda i: scores[i])].group()
    [(masked, originals)] = masking.make_masks([TEXT], "least_sure", 1, predictor=predictor)
    assert originals == [least] and masked == TEXT.replace(least, "[MASK]", 1)
    assert scores[[m.group() for m in candidates].index(least)] <= min(scores)

    store = AnnotationStore.sqlite(tmp_path / "a.sqlite3")
    service = CampaignService(store, cache)
    c = service.create(OWNER, "Least sure", source=(TEXT + "\nBirds sing in the morning.\n")
                       .encode(), fmt="txt", presets=[PRESET], top_k=5, overlap=1,
                       masking={"strategy": "least_sure", "per_sentence": 2})
    item = service.next(people(1)[0], c["id"])
    assert item["text"].count("[MASK]") == 2
    masked_out = [w.lower() for w in TEXT.split() if w.strip(".") not in item["text"]]
    for mask, original in zip(item["masks"], masked_out):  # the model's 5, and the original
        assert original in mask["options"] and len(mask["options"]) in (5, 6)
    store.close()


def test_campaign_from_datasets_folder(cache, tmp_path):
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "ds"
    datasets.Dataset.from_dict({"text": ["The sky is [MASK].", "I like [MASK] tea."],
                                "gold": ["blue", "green"], "extra": [1, 2]}).save_to_disk(
        str(folder))
    store = AnnotationStore.sqlite(tmp_path / "a.sqlite3")
    service = CampaignService(store, cache)
    c = service.create(OWNER, "From a dataset", source=folder, presets=[PRESET], overlap=1)
    assert c["items"] == 2
    store.close()
