"""`python app.py --users users.txt` launched for real: an owner and three logged-in
annotators drive a campaign with gradio_client from create to export, read back with
`datasets.load_dataset`."""

import zipfile

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from albert_demo.presets.registry import EMBEDDED_PRESET
from tests.harness.app import LaunchedApp

pytestmark = pytest.mark.system  # Against a launched app.

SENTENCES = "The sky is [MASK].\nI drink [MASK] every morning.\nCats like to [MASK].\n"
USERS = {"olivia": "owner-pw", "a1": "pw1", "a2": "pw2", "a3": "pw3"}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("campaign_app")
    users = folder / "users.txt"
    users.write_text("olivia:owner-pw:owner\na1:pw1\na2:pw2\na3:pw3\n")
    app = LaunchedApp(folder / "data", folder / "app.log", env={"ALBERT_DEMO_DATABASE_URL": ""},
                      args=("--users", str(users)))
    try:
        app.wait_until_serving()
        yield app.url
    finally:
        app.stop()


def login(url, name):
    return Client(url, auth=(name, USERS[name]), verbose=False)


def test_three_annotators_from_create_to_export(app_url, tmp_path):
    datasets = pytest.importorskip("datasets")
    owner = login(app_url, "olivia")
    annotators = {name: login(app_url, name) for name in ("a1", "a2", "a3")}

    with pytest.raises(AppError, match="may annotate but not create"):
        annotators["a1"].predict("Mine", SENTENCES, "txt", api_name="/campaign_create")
    with pytest.raises(AppError, match="line 1: invalid JSON"):
        owner.predict("Bad", "{", "jsonl", api_name="/campaign_create")
    campaign = owner.predict("Breakfast", SENTENCES, "txt", [EMBEDDED_PRESET], 5, 3,
                             "Accept every word that fits.", api_name="/campaign_create")
    cid = campaign["id"]
    assert campaign["items"] == 3 and campaign["owner"] == "olivia"
    assert [c["id"] for c in annotators["a2"].predict(api_name="/campaign_list")] == [cid]

    for n, (name, client) in enumerate(annotators.items()):
        while True:
            item = client.predict(cid, api_name="/campaign_next")
            if item["item_id"] is None:
                break
            options = item["masks"][0]["options"]
            assert len(options) == 5 and "reference" not in item
            # a1 and a2 accept the top word; a3 the second, and types one on the last item.
            answer = {"accepted": [options[0] if n < 2 else options[1]], "typed": None}
            if n == 2 and item["text"].startswith("Cats"):
                answer = {"accepted": [], "typed": "sleep"}
            done = client.predict(cid, item["item_id"], [answer], api_name="/campaign_submit")
        assert done["progress"]["yours"] == 3

    a1 = annotators["a1"]
    with pytest.raises(AppError, match="Only the owner"):
        a1.predict(cid, api_name="/campaign_agreement")
    with pytest.raises(AppError, match="Only the owner"):
        a1.predict(cid, 1, ["x"], api_name="/campaign_adjudicate")
    back = a1.predict(cid, api_name="/campaign_undo")
    assert back["previous"]["kind"] == "judged"
    with pytest.raises(AppError, match="not leased to you"):
        annotators["a2"].predict(cid, back["item_id"], [{"accepted": []}],
                                 api_name="/campaign_submit")
    a1.predict(cid, back["item_id"], back["previous"]["answers"], api_name="/campaign_submit")

    figures = owner.predict(cid, api_name="/campaign_agreement")
    assert {a["annotator"] for a in figures["annotators"]} == {"a1", "a2", "a3"}  # logins
    assert figures["items_with_two_or_more"] == 3 and figures["units"] >= 15
    assert 0 <= figures["percent_agreement"] <= 1
    print(f"\nAPI test campaign: {figures['units']} units, percent agreement "
          f"{figures['percent_agreement']:.3f}, Krippendorff's alpha "
          f"{figures['krippendorff_alpha']:.3f}, model top-1 vs gold "
          f"{figures['model_accuracy'][0]['top1_accuracy']}")
    review = owner.predict(cid, 50, api_name="/campaign_review")
    assert review and all(r["disagreement"] > 0 or r["unsettled"] for r in review)
    settled = owner.predict(cid, review[0]["item_id"], ["toast"],
                            api_name="/campaign_adjudicate")
    assert settled["gold"] == ["toast"]
    scores = owner.predict(cid, [EMBEDDED_PRESET], api_name="/campaign_evaluate")
    assert scores[0]["preset"] == EMBEDDED_PRESET and scores[0]["items"] >= 1
    assert 0 <= scores[0]["top1"] <= scores[0]["top5"] <= 1
    with pytest.raises(AppError, match="Only the owner"):
        a1.predict(cid, [EMBEDDED_PRESET], api_name="/campaign_evaluate")

    written = owner.predict(cid, api_name="/campaign_export")
    gold = datasets.load_dataset(written["folder"], "gold")["train"]
    raw = datasets.load_dataset(written["folder"], "judgments")["train"]
    assert len(gold) == 3 and len(raw) == 9
    assert "toast" in [g for row in gold["gold"] for g in row]
    downloaded = owner.predict(cid, api_name="/campaign_export_download")
    with zipfile.ZipFile(downloaded) as z:
        assert {"README.md", "data/gold.jsonl", "data/judgments.jsonl"} <= set(z.namelist())
    with pytest.raises(AppError, match="Only the owner"):
        a1.predict(cid, api_name="/campaign_export_download")
