"""`python app.py --users users.txt` launched for real: an owner and three logged-in
annotators drive a campaign with gradio_client from create to export, read back with
`datasets.load_dataset`; and nothing the app writes in its data folder is served by path,
to a logged-in annotator or to anyone on a server without logins."""

import json
import zipfile
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from albert_demo.campaigns import masking
from albert_demo.presets.registry import EMBEDDED_PRESET
from tests.harness.app import LaunchedApp

pytestmark = pytest.mark.system  # Against a launched app.

SENTENCES = "The sky is [MASK].\nI drink [MASK] every morning.\nCats like to [MASK].\n"
USERS = {"olivia": "owner-pw", "a1": "pw1", "a2": "pw2", "a3": "pw3"}


def launched(folder, args=()):
    app = LaunchedApp(folder / "data", folder / "app.log", env={"ALBERT_DEMO_DATABASE_URL": ""},
                      args=args)
    app.data = folder / "data"
    return app


@pytest.fixture(scope="module")
def users_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("campaign_app")
    users = folder / "users.txt"
    users.write_text("olivia:owner-pw:owner\na1:pw1\na2:pw2\na3:pw3\n")
    app = launched(folder, ("--users", str(users)))
    try:
        app.wait_until_serving()
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def app_url(users_app):
    return users_app.url


def login(url, name):
    return Client(url, auth=(name, USERS[name]), verbose=False)


def create_args(name, sentences, *settings, session_id=""):
    """/campaign_create's arguments, all of them and in order, as gradio_client needs for an
    unlisted endpoint: the settings given (format, presets, top-k, overlap, guidelines,
    mask strategy, masks per sentence, mask words, lease seconds), then the page's
    defaults for the rest, then the session id ("" under a login)."""
    defaults = ("txt", [EMBEDDED_PRESET], 5, 3, "", masking.DEFAULT, 1, "", 600)
    return (name, sentences, *settings, *defaults[len(settings):], session_id)


def test_three_annotators_from_create_to_export(app_url, tmp_path):
    datasets = pytest.importorskip("datasets")
    owner = login(app_url, "olivia")
    annotators = {name: login(app_url, name) for name in ("a1", "a2", "a3")}

    with pytest.raises(AppError, match="may annotate but not create"):
        annotators["a1"].predict(*create_args("Mine", SENTENCES), api_name="/campaign_create")
    with pytest.raises(AppError, match="line 1: invalid JSON"):
        owner.predict(*create_args("Bad", "{", "jsonl"), api_name="/campaign_create")
    campaign = owner.predict(*create_args("Breakfast", SENTENCES, "txt", [EMBEDDED_PRESET], 5,
                                          3, "Accept every word that fits."),
                             api_name="/campaign_create")
    cid = campaign["id"]
    assert campaign["items"] == 3 and campaign["owner"] == "olivia"
    assert [c["id"] for c in annotators["a2"].predict("", api_name="/campaign_list")] == [cid]

    for n, (name, client) in enumerate(annotators.items()):
        while True:
            item = client.predict(cid, "", api_name="/campaign_next")
            if item["item_id"] is None:
                break
            options = item["masks"][0]["options"]
            assert len(options) == 5 and "reference" not in item
            # a1 and a2 accept the top word; a3 the second, and types one on the last item.
            answer = {"accepted": [options[0] if n < 2 else options[1]], "typed": None}
            if n == 2 and item["text"].startswith("Cats"):
                answer = {"accepted": [], "typed": "sleep"}
            done = client.predict(cid, item["item_id"], [answer], "",
                                  api_name="/campaign_submit")
        assert done["progress"]["yours"] == 3

    a1 = annotators["a1"]
    with pytest.raises(AppError, match="Only the owner"):
        a1.predict(cid, "", api_name="/campaign_agreement")
    with pytest.raises(AppError, match="Only the owner"):
        a1.predict(cid, 1, ["x"], "", False, api_name="/campaign_adjudicate")
    back = a1.predict(cid, "", api_name="/campaign_undo")
    assert back["previous"]["kind"] == "judged"
    with pytest.raises(AppError, match="not leased to you"):
        annotators["a2"].predict(cid, back["item_id"], [{"accepted": []}], "",
                                 api_name="/campaign_submit")
    a1.predict(cid, back["item_id"], back["previous"]["answers"], "",
               api_name="/campaign_submit")

    figures = owner.predict(cid, "", api_name="/campaign_agreement")
    assert {a["annotator"] for a in figures["annotators"]} == {"a1", "a2", "a3"}  # logins
    assert figures["items_with_two_or_more"] == 3 and figures["units"] == 3  # one mask each
    assert 0 <= figures["percent_agreement"] <= 1
    print(f"\nAPI test campaign: {figures['units']} units, percent agreement "
          f"{figures['percent_agreement']:.3f}, Krippendorff's alpha "
          f"{figures['krippendorff_alpha']:.3f}, model top-1 vs gold "
          f"{figures['model_accuracy'][0]['top1_accuracy']}")
    review = owner.predict(cid, 50, "", api_name="/campaign_review")
    assert review and all(r["agreement"] < 1 or r["unsettled"] for r in review)
    with pytest.raises(AppError, match="No annotator picked 'toast'"):
        owner.predict(cid, review[0]["item_id"], ["toast"], "", False,
                      api_name="/campaign_adjudicate")
    settled = owner.predict(cid, review[0]["item_id"], ["toast"], "", True,
                            api_name="/campaign_adjudicate")
    assert settled["gold"] == ["toast"] and settled["gold_source"] == ["owner"]
    scores = owner.predict(cid, [EMBEDDED_PRESET], "", api_name="/campaign_evaluate")
    assert scores[0]["preset"] == EMBEDDED_PRESET and scores[0]["items"] >= 1
    assert 0 <= scores[0]["top1"] <= scores[0]["top5"] <= 1
    with pytest.raises(AppError, match="Only the owner"):
        a1.predict(cid, [EMBEDDED_PRESET], "", api_name="/campaign_evaluate")

    written = owner.predict(cid, "", api_name="/campaign_export")
    assert (written["items"], written["judgments"]) == (3, 9)
    assert "folder" not in written and "zip" not in written  # no server paths
    assert str(Path(tmp_path).anchor + "tmp") not in json.dumps(written)
    downloaded = owner.predict(cid, "", api_name="/campaign_export_download")
    with zipfile.ZipFile(downloaded) as z:
        assert {"README.md", "data/gold.jsonl", "data/judgments.jsonl"} <= set(z.namelist())
        z.extractall(tmp_path / "export")
    gold = datasets.load_dataset(str(tmp_path / "export"), "gold")["train"]
    raw = datasets.load_dataset(str(tmp_path / "export"), "judgments")["train"]
    assert len(gold) == 3 and len(raw) == 9
    assert "toast" in [g for row in gold["gold"] for g in row]
    with pytest.raises(AppError, match="Only the owner"):
        a1.predict(cid, "", api_name="/campaign_export_download")


def test_plain_sentences_with_the_default_settings(app_url):
    """A .txt without [MASK], created with the page's default settings: the word the
    model is least sure about is masked in each sentence; messages use the page's words."""
    owner = login(app_url, "olivia")
    plain = "He drove his car to work.\nShe brushed her teeth before bed.\n"
    campaign = owner.predict(*create_args("Plain", plain), api_name="/campaign_create")
    assert campaign["items"] == 2
    assert campaign["source"]["masking"]["strategy"] == "least_sure"
    item = owner.predict(campaign["id"], "", api_name="/campaign_next")
    assert item["text"].count("[MASK]") == 1 and "reference" not in item
    source = plain.splitlines()[0 if item["text"].startswith("He") else 1]
    shown = [w.strip(".") for w in item["text"].split()]
    [original] = [w.strip(".").lower() for w in source.split() if w.strip(".") not in shown]
    assert original in item["masks"][0]["options"]  # the masked-out word is on offer
    assert item["masks"][0]["columns"] == []  # no rank that would single it out
    with pytest.raises(AppError, match="words the model is least sure about") as refused:
        owner.predict(*create_args("Unmasked", plain, "txt", [EMBEDDED_PRESET], 5, 3, "",
                                   "none"), api_name="/campaign_create")
    assert "least_sure" not in str(refused.value)


def fetch_by_path(http, url, path):
    """What `/gradio_api/file=<path>` answers for a file on the server."""
    return http.get(f"{url}gradio_api/file={path}").status_code


def logged_in(url, name):
    http = httpx.Client(timeout=30)
    assert http.post(f"{url}login", data={"username": name,
                                          "password": USERS[name]}).status_code == 200
    return http


def written_files(data):
    """Every file the app wrote in its data folder that holds people's answers."""
    return [p for p in data.rglob("*") if p.is_file()
            and (p.suffix in (".zip", ".jsonl", ".csv", ".txt") or p.name == "README.md")]


def test_nothing_in_the_data_folder_is_served_to_a_logged_in_annotator(users_app):
    url, owner = users_app.url, login(users_app.url, "olivia")
    made = owner.predict(*create_args("Leak check", "The sky is [MASK].\n", "txt",
                                      [EMBEDDED_PRESET], 5, 1), api_name="/campaign_create")
    cid = made["id"]
    a2 = login(url, "a2")
    item = a2.predict(cid, "", api_name="/campaign_next")
    a2.predict(cid, item["item_id"], [{"accepted": [], "typed": "secretword"}], "",
               api_name="/campaign_submit")
    owner.predict(cid, "", api_name="/campaign_export")
    a2.predict("a2-session", "csv", "", "", "", "any", "", "",
               api_name="/annotations_export")  # their own rows, written in data/exports
    files = written_files(users_app.data)
    assert any(p.suffix == ".zip" for p in files)
    assert any(p.name == "judgments.jsonl" for p in files)
    assert any(p.suffix == ".csv" for p in files)
    annotator, anyone = logged_in(url, "a1"), httpx.Client(timeout=30)
    for path in files:
        assert fetch_by_path(annotator, url, path) == 403, path
        assert fetch_by_path(anyone, url, path) in (401, 403), path
    # The owner takes the zip through the endpoint that checks them, as a fresh copy.
    with pytest.raises(AppError, match="Only the owner"):
        login(url, "a1").predict(cid, "", api_name="/campaign_export_download")
    with zipfile.ZipFile(owner.predict(cid, "", api_name="/campaign_export_download")) as z:
        assert "secretword" in z.read("data/judgments.jsonl").decode()


@pytest.fixture(scope="module")
def public_app(tmp_path_factory):
    app = launched(tmp_path_factory.mktemp("public_app"))
    try:
        app.wait_until_serving()
        yield app
    finally:
        app.stop()


def test_nothing_in_the_data_folder_is_served_without_logins(public_app):
    """No --users: anyone may create a campaign with their session id; a plain GET with no
    cookie and no session fetches none of the files it wrote."""
    url = public_app.url
    client = Client(url, verbose=False)
    cid = client.predict(*create_args("Open", "The sky is [MASK].\n", "txt", [EMBEDDED_PRESET],
                                      5, 1, session_id="owner-session"),
                         api_name="/campaign_create")["id"]
    other = Client(url, verbose=False)
    item = other.predict(cid, "typist", api_name="/campaign_next")
    other.predict(cid, item["item_id"], [{"accepted": [], "typed": "secretword"}], "typist",
                  api_name="/campaign_submit")
    client.predict(cid, "owner-session", api_name="/campaign_export")
    files = written_files(public_app.data)
    assert any("secretword" in p.read_text(errors="ignore") for p in files
               if p.suffix != ".zip")
    anyone = httpx.Client(timeout=30)
    for path in files:
        assert fetch_by_path(anyone, url, path) == 403, path
    with pytest.raises(AppError, match="Only the owner"):
        other.predict(cid, "typist", api_name="/campaign_export_download")
