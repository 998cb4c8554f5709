"""Agreement on a case small enough to work out by hand; review and adjudication; export read
back with `datasets`; push to a loopback server standing in for the Hugging Face Hub."""

import json
import zipfile

import pytest

from albert_demo.campaigns import CampaignError, NotAllowed
from albert_demo.campaigns import agreement
from albert_demo.plots.campaigns import agreement_chart, annotator_chart, progress_chart
from tests.campaigns.conftest import OWNER, people
from tests.harness.fake_hub import FakeHub

# Two sentences, candidates fixed by the stand-in model (conftest.KNOWN), three annotators.
ANSWERS = {  # annotator -> accepted words for (sky, grass)
    "x": (["blue"], ["green"]),
    "y": (["blue"], ["brown"]),
    "z": (["blue", "grey"], ["green"]),
}


def hand_campaign(service):
    c = service.create(OWNER, "Hand case", source=b"The sky is [MASK].\nGrass is [MASK].\n",
                       fmt="txt", presets=["fake"], top_k=2, overlap=3)
    for name, words in ANSWERS.items():
        from albert_demo.campaigns import Annotator
        me = Annotator.user(name)
        for _ in range(2):
            item = service.next(me, c["id"])
            sky = item["text"].startswith("The sky")
            service.submit(me, c["id"], item["item_id"], [words[0 if sky else 1]])
    return c


def test_agreement_by_hand(service):
    """Units (candidate at a mask) and ratings x, y, z:
        sky/blue 1 1 1   sky/grey 0 0 1   grass/green 1 0 1   grass/brown 0 1 0
    Percent agreement: pairs agreeing per unit 3/3, 1/3, 1/3, 1/3 -> mean 0.5.
    Krippendorff's alpha (nominal): coincidences o00=2, o11=4, o01=o10=3, n=12, n0=5, n1=7;
    alpha = 1 - (n-1)(o01+o10)/(2 n0 n1) = 1 - 11*6/70 = 4/70.
    Majority per unit 1, 0, 1, 0 -> x agrees 4/4, y 2/4, z 3/4.
    Gold: sky 'blue' (3 of 3), grass 'green' (2 of 3); the model's top-1 are blue, green."""
    c = hand_campaign(service)
    figures = service.agreement(OWNER, c["id"])
    assert figures["units"] == 4
    assert figures["percent_agreement"] == pytest.approx(0.5)
    assert figures["krippendorff_alpha"] == pytest.approx(4 / 70)
    assert {a["annotator"]: a["agreement_with_majority"] for a in figures["annotators"]} == {
        "x": 1.0, "y": 0.5, "z": 0.75}
    assert figures["model_accuracy"] == [{"preset": "fake", "gold_masks": 2,
                                          "top1_accuracy": 1.0}]

    review = service.review(OWNER, c["id"])
    assert [r["text"] for r in review] == ["Grass is [MASK].", "The sky is [MASK]."]
    grass = review[0]
    assert grass["gold"] == ["green"] and grass["gold_source"] == ["majority"]
    assert {j["annotator"] for j in grass["judgments"]} == {"x", "y", "z"}
    with pytest.raises(NotAllowed):
        service.adjudicate(people(1)[0], c["id"], grass["item_id"], ["brown"])
    service.adjudicate(OWNER, c["id"], grass["item_id"], ["Brown"])
    figures = service.agreement(OWNER, c["id"])
    assert figures["model_accuracy"][0]["top1_accuracy"] == 0.5  # green was overruled
    settled = [r for r in service.review(OWNER, c["id"]) if r["item_id"] == grass["item_id"]]
    assert settled[0]["gold"] == ["brown"] and settled[0]["gold_source"] == ["adjudicated"]

    dash = service.dashboard(OWNER, c["id"])
    assert dash["timeline"][-1][1] == 6 and dash["per_annotator"] == {"x": 2, "y": 2, "z": 2}
    for fig in (progress_chart(dash["timeline"], dash["needed"]),
                annotator_chart(dash["per_annotator"]), agreement_chart(dash["agreement"])):
        assert fig.data  # pure functions: figures from plain values
    assert "α 0.06" in agreement_chart(dash["agreement"]).layout.title.text


def test_agreement_edge_cases():
    one = {"id": 1, "options": [["a", "b"]], "gold": None, "predictions": {},
           "judgments": [{"annotator": "p", "answers": [{"accepted": ["a"]}]}]}
    figures = agreement.figures([one], [])
    assert figures["percent_agreement"] is None and figures["krippendorff_alpha"] is None
    same = dict(one, judgments=one["judgments"] * 1 + [
        {"annotator": "q", "answers": [{"accepted": ["a"]}]}])
    figures = agreement.figures([same], [])
    assert figures["percent_agreement"] == 1.0  # a: 1 1, b: 0 0
    assert figures["krippendorff_alpha"] == 1.0
    figures = agreement.figures([dict(same, options=[["a"]])], [])
    assert figures["percent_agreement"] == 1.0
    assert figures["krippendorff_alpha"] is None  # one value everywhere: undefined, not faked
    tie = dict(one, judgments=[{"annotator": "p", "answers": [{"accepted": ["a"]}]},
                               {"annotator": "q", "answers": [{"accepted": ["b"]}]}])
    assert agreement.gold(tie) == [(None, None)]


def test_export_reads_back_with_datasets(service, tmp_path):
    datasets = pytest.importorskip("datasets")  # in requirements-test.txt: always there in CI
    c = hand_campaign(service)
    skipper = people(1)[0]
    with pytest.raises(CampaignError, match="Nothing to export"):
        service.export(OWNER, service.create(OWNER, "empty", source=b"A [MASK].", fmt="txt",
                                             presets=["fake"])["id"], tmp_path)
    extra = service.create(OWNER, "x", source=b"A [MASK].", fmt="txt", presets=["fake"])
    service.skip(skipper, extra["id"], service.next(skipper, extra["id"])["item_id"])

    written = service.export(OWNER, c["id"], tmp_path / "out")
    again = service.export(OWNER, c["id"], tmp_path / "out")  # replaced whole
    assert again["folder"] == written["folder"]
    gold = datasets.load_dataset(written["folder"], "gold")["train"]
    raw = datasets.load_dataset(written["folder"], "judgments")["train"]
    assert len(gold) == 2 and len(raw) == 6
    by_text = {r["text"]: r for r in gold}
    assert by_text["The sky is [MASK]."]["gold"] == ["blue"]
    assert by_text["Grass is [MASK]."]["gold_source"] == ["majority"]
    assert by_text["The sky is [MASK]."]["predictions"] == [
        {"preset": "fake", "top_k": [["blue", "grey"]]}]
    assert sorted(set(raw["annotator"])) == ["annotator_1", "annotator_2", "annotator_3"]
    assert not any("user:" in json.dumps(r) for r in raw)  # logins stay private
    card = open(written["folder"] + "/README.md").read()
    assert "| Krippendorff's alpha (nominal) | 0.057 |" in card
    assert "| percent agreement (pairwise, per unit) | 50.0% |" in card
    with zipfile.ZipFile(written["zip"]) as z:
        assert sorted(z.namelist()) == ["README.md", "data/", "data/gold.jsonl",
                                        "data/judgments.jsonl"] or set(z.namelist()) >= {
            "README.md", "data/gold.jsonl", "data/judgments.jsonl"}


def test_push_to_hub_loopback(service, tmp_path):
    c = hand_campaign(service)
    with FakeHub(token="hf_secret") as hub:  # any other token is refused (401)
        with pytest.raises(NotAllowed):
            service.push_to_hub(people(1)[0], c["id"], "team/colours", "hf_x", tmp_path,
                                endpoint=hub.url)
        with pytest.raises(CampaignError, match="owner/name"):
            service.push_to_hub(OWNER, c["id"], "no slash", "hf_x", tmp_path, endpoint=hub.url)
        result = service.push_to_hub(OWNER, c["id"], "team/colours", "hf_secret", tmp_path,
                                     endpoint=hub.url)
    repo = hub.repos["dataset/team/colours"]  # a dataset repository
    [(_, _, _, create)] = hub.calls("POST", "/api/repos/create")
    assert json.loads(create)["visibility"] == "private"
    assert set(repo) == {"README.md", "data/gold.jsonl", "data/judgments.jsonl"}
    local = tmp_path / "campaign-{}-hand-case".format(c["id"])
    for name, data in repo.items():
        assert data == (local / name).read_bytes()  # what arrived is what was exported
    assert {headers.get("authorization") for _, _, headers, _ in hub.requests} == {
        "Bearer hf_secret"}
    assert result["commit_url"].startswith(f"{hub.url}/datasets/team/colours/commit/")


def test_evaluate_and_gold_texts(service):
    c = hand_campaign(service)
    with pytest.raises(NotAllowed):
        service.evaluate(people(1)[0], c["id"], ["fake"])
    scores = service.evaluate(OWNER, c["id"], ["fake", "other"])
    # Gold: sky 'blue', grass 'green'; "fake" ranks (blue, grey), (green, brown); "other"
    # the reverse: top-1 right twice / never, top-5 always.
    assert [(s["preset"], s["items"], s["top1"], s["top5"]) for s in scores] == [
        ("fake", 2, 1.0, 1.0), ("other", 2, 0.0, 1.0)]
    assert sorted(service.gold_texts(OWNER, c["id"]).splitlines()) == [
        "Grass is green.", "The sky is blue."]
