"""Agreement on a case small enough to work out by hand; review and adjudication; export read
back with `datasets`; push to a loopback server standing in for the Hugging Face Hub."""

import json
import zipfile

import pytest

from albert_demo.campaigns import CampaignError, NotAllowed
from albert_demo.campaigns import agreement, export
from albert_demo.plots.campaigns import agreement_chart, annotator_chart, progress_chart
from tests.campaigns.conftest import COLOURS, OWNER, people
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
    """Units are (item, mask); a value is the set of words picked there:
        sky:   x {blue}   y {blue}   z {blue, grey}
        grass: x {green}  y {brown}  z {green}
    Percent agreement: agreeing pairs sky 1/3 (x-y), grass 1/3 (x-z) -> 1/3.
    Krippendorff's alpha (nominal, sets as categories A={blue}, B={blue,grey}, C={green},
    D={brown}): each unit has 3 values, so each ordered pair weighs 1/2. Coincidences
    o_AA=1, o_AB=o_BA=1, o_CC=1, o_CD=o_DC=1; n=6, n_A=2, n_B=1, n_C=2, n_D=1.
    D_o = 4/6, D_e = (36 - 4 - 1 - 4 - 1) / (6 * 5) = 26/30, alpha = 1 - D_o/D_e = 3/13.
    Agreement with the majority of the *others*: x: sky others {blue},{blue,grey} and
    grass others {brown},{green} have no majority -> n/a (0 units); y: grass others
    x, z say {green}, y said {brown} -> 0 of 1; z: sky others say {blue}, z said
    {blue, grey} -> 0 of 1.
    Gold: sky 'blue' (3 of 3), grass 'green' (2 of 3); the model's top-1 are blue, green."""
    c = hand_campaign(service)
    figures = service.agreement(OWNER, c["id"])
    assert figures["units"] == 2 and figures["unit"] == "one [MASK] of one item"
    assert figures["percent_agreement"] == pytest.approx(1 / 3)
    assert figures["krippendorff_alpha"] == pytest.approx(3 / 13)
    assert {a["annotator"]: (a["units_with_a_majority_of_others"],
                             a["agreement_with_majority"]) for a in figures["annotators"]} == {
        "x": (0, None), "y": (1, 0.0), "z": (1, 0.0)}
    assert figures["model_accuracy"] == [{"preset": "fake", "gold_masks": 2,
                                          "top1_accuracy": 1.0}]

    review = service.review(OWNER, c["id"])
    assert [r["text"] for r in review] == ["The sky is [MASK].", "Grass is [MASK]."]
    grass = review[1]
    assert grass["agreement"] == pytest.approx(1 / 3) and grass["judged"] == 3
    assert grass["votes"] == [{"green": 2, "brown": 1}]
    assert review[0]["votes"] == [{"blue": 3, "grey": 1}]
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
    assert dash["leases"] == []
    for fig in (progress_chart(dash["timeline"], dash["needed"]),
                annotator_chart(dash["per_annotator"]), agreement_chart(dash["agreement"])):
        assert fig.data  # pure functions: figures from plain values
    assert "α 0.23" in agreement_chart(dash["agreement"]).layout.title.text


def two_people(pairs, options=("had", "got", "took", "made", "did")):
    """Items judged by p and q: pairs of (p's words, q's words), one mask each."""
    return [{"id": n, "options": [list(options)], "gold": None, "predictions": {},
             "judgments": [{"annotator": "p", "answers": [{"accepted": list(a)}]},
                           {"annotator": "q", "answers": [{"accepted": list(b)}]}]}
            for n, (a, b) in enumerate(pairs, 1)]


def test_two_annotators_who_disagree_agree_zero_percent():
    """The reported case: p picked 'had', q 'got', among five candidates. Per candidate
    checkbox they 'agreed' on 4 of 5 (80%); on the words they picked, they did not: 0%.
    Alpha: one unit, two categories of one value each: D_o = 1, D_e = (4 - 2) / 2 = 1 -> 0.
    Each one's agreement with the majority of the others (the other one) is 0 of 1, not
    100%; the item has no majority word, so its gold is unsettled."""
    [item] = two_people([(["had"], ["got"])])
    figures = agreement.figures([item], [])
    assert figures["percent_agreement"] == 0.0
    assert figures["krippendorff_alpha"] == 0.0
    assert [(a["annotator"], a["agreement_with_majority"]) for a in figures["annotators"]] == [
        ("p", 0.0), ("q", 0.0)]
    assert agreement.gold(item) == [(None, "unsettled")]
    assert agreement.item_agreement(item) == 0.0


def test_two_annotators_agreeing_on_two_of_four_items():
    """Items: (had | had), (got | had), (had, got | had, got), (did | made).
    Agreeing pairs 1, 0, 1, 0 -> 50%. Alpha: categories A={had}, B={got}, C={had,got},
    D={did}, E={made}; pairs weigh 1 (two values per unit): o_AA=2, o_CC=2, o_BA=o_AB=1,
    o_DE=o_ED=1; n=8, n_A=3, n_B=1, n_C=2, n_D=1, n_E=1. D_o = 4/8, D_e = (64 - 9 - 1 - 4
    - 1 - 1)/(8*7) = 48/56, alpha = 1 - (1/2)/(6/7) = 5/12. Each agrees with the other
    (the majority of the others) on 2 of 4. Gold: 'had' (2 of 2), none on the 2nd (1 each),
    'had' on the 3rd ('had' and 'got' both 2 of 2: a tie, unsettled), none on the 4th."""
    items = two_people([(["had"], ["had"]), (["got"], ["had"]),
                        (["had", "got"], ["had", "got"]), (["did"], ["made"])])
    figures = agreement.figures(items, [])
    assert figures["percent_agreement"] == 0.5
    assert figures["krippendorff_alpha"] == pytest.approx(5 / 12)
    assert [a["agreement_with_majority"] for a in figures["annotators"]] == [0.5, 0.5]
    assert [agreement.gold(i)[0] for i in items] == [
        ("had", "majority"), (None, "unsettled"), (None, "unsettled"), (None, "unsettled")]
    assert figures["gold_masks"] == 1 and figures["unsettled_masks"] == 3


def test_agreement_edge_cases():
    one = {"id": 1, "options": [["a", "b"]], "gold": None, "predictions": {},
           "judgments": [{"annotator": "p", "answers": [{"accepted": ["a"]}]}]}
    figures = agreement.figures([one], [])
    assert figures["percent_agreement"] is None and figures["krippendorff_alpha"] is None
    assert agreement.gold(one) == [(None, "unsettled")]  # one judgment is not a majority
    same = dict(one, judgments=one["judgments"] * 1 + [
        {"annotator": "q", "answers": [{"accepted": ["a"]}]}])
    figures = agreement.figures([same], [])
    assert figures["percent_agreement"] == 1.0
    assert figures["krippendorff_alpha"] is None  # one value everywhere: undefined, not faked
    assert agreement.gold(same) == [("a", "majority")]
    none_fit = dict(one, judgments=[{"annotator": "p", "answers": [{"none_fit": True}]},
                                    {"annotator": "q", "answers": [{"accepted": [],
                                                                    "typed": None}]}])
    assert agreement.figures([none_fit], [])["percent_agreement"] == 1.0  # both: nothing
    tie = dict(one, judgments=[{"annotator": "p", "answers": [{"accepted": ["a"]}]},
                               {"annotator": "q", "answers": [{"accepted": ["b"]}]}])
    assert agreement.gold(tie) == [(None, "unsettled")]


def test_gold_outside_every_pick_needs_confirmation(service):
    c = hand_campaign(service)
    sky = next(r for r in service.review(OWNER, c["id"]) if r["text"].startswith("The sky"))
    with pytest.raises(CampaignError, match="No annotator picked 'azure'.*they picked: "
                                            "blue, grey.*Confirm"):
        service.adjudicate(OWNER, c["id"], sky["item_id"], ["azure"])
    assert service.adjudicate(OWNER, c["id"], sky["item_id"], ["grey"])["gold_source"] == [
        "adjudicated"]
    done = service.adjudicate(OWNER, c["id"], sky["item_id"], ["azure"],
                              confirm_own_word=True)
    assert done == {"item_id": sky["item_id"], "gold": ["azure"], "gold_source": ["owner"]}
    gold, _ = export.rows(*_campaign_and_items(service, c["id"]))
    assert [(g["gold"], g["gold_source"]) for g in gold if g["item_id"] == sky["item_id"]] == [
        (["azure"], ["owner"])]


def _campaign_and_items(service, campaign_id):
    with service.engine.connect() as conn:
        campaign = service._campaign(conn, campaign_id)
        return campaign, service._items_with_judgments(conn, campaign)


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
    assert "| Krippendorff's alpha (nominal) | 0.231 |" in card
    assert "| percent agreement (pairs who picked the same words, per unit) | 33.3% |" in card
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


def test_the_original_word_is_on_offer_blind_and_named_in_the_export(service, tmp_path):
    """Masked-out words ("warm", "night", ...) are never among the stand-in model's
    colours: each is offered all the same, at a place that varies by item and stays put
    for that item; nothing in what annotators get marks it; the majority can pick it; the
    export names it."""
    text = (b"Cats sleep on warm mats.\nDogs bark at night.\nBirds sing in spring.\n"
            b"Fish swim in cold water.\nBees make sweet honey.\nCows eat fresh hay.\n")
    c = service.create(OWNER, "Originals", source=text, fmt="txt", presets=["fake", "other"],
                       top_k=5, overlap=2, masking={
                           "strategy": "words",
                           "words": "warm night spring cold sweet fresh"})
    first, second = people(2)
    places = set()
    for _ in range(c["items"]):
        item = service.next(first, c["id"])
        [mask] = item["masks"]
        original = next(w for w in mask["options"] if w not in COLOURS)
        assert sorted(mask["options"]) == sorted({*COLOURS[:5], *COLOURS[::-1][:5], original})
        assert json.dumps(item).count(original) == 1  # in the options, nowhere else
        assert "reference" not in item and "original" not in json.dumps(item)
        assert service.next(first, c["id"])["masks"][0]["options"] == mask["options"]
        places.add(mask["options"].index(original))
        service.submit(first, c["id"], item["item_id"], [[original]])
        other = service.next(second, c["id"])
        assert other["masks"][0]["options"] == mask["options"]  # the same for everyone
        service.submit(second, c["id"], other["item_id"], [[original]])
    assert len(places) > 1  # shuffled in, not always at one place

    figures = service.agreement(OWNER, c["id"])
    assert figures["percent_agreement"] == 1 and figures["gold_masks"] == 6
    written = service.export(OWNER, c["id"], tmp_path / "out")
    rows = [json.loads(line) for line in
            open(f"{written['folder']}/{export.GOLD_FILE}", encoding="utf-8")]
    assert all(r["gold"] == r["original_candidate"] == [r["reference"][0].lower()]
               for r in rows)
    assert all(r["gold_source"] == ["majority"] for r in rows)
    card = open(f"{written['folder']}/README.md", encoding="utf-8").read()
    assert "`original_candidate`" in card and "(6 of 6 masks)" in card
