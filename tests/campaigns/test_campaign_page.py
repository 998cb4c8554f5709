"""The Campaigns tab's own handlers, called as Gradio calls them (no browser): opening a
campaign takes no item, "from my annotations" reads only the caller's rows, an answer with
nothing ticked is refused, and the dashboard is tables people read, not JSON."""

from pathlib import Path

import gradio as gr
import pytest
from sqlalchemy import func, select

from albert_demo.campaigns import schema
from albert_demo.ui.campaign_api import ENDPOINTS
from albert_demo.ui.campaign_views import NONE_FIT, answer_of, choices, review_row
from tests.campaigns.test_campaign_identity import build, functions, request

SENTENCES = "The sky is [MASK].\nGrass is [MASK].\n"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    demo, store = build(tmp_path_factory.mktemp("page"), owners={"olivia"})
    yield functions(demo), demo, store
    store.close()


def leases(store):
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.leases)).scalar_one()


def by_id(updates):
    """{elem_id or label: value} of a handler's {component: update} answer."""
    out = {}
    for component, value in updates.items():
        key = component.elem_id or getattr(component, "label", None) or type(component)
        out[key] = value
    return out


def test_opening_a_campaign_takes_no_item_until_asked(page):
    fns, _, store = page
    olivia = request("olivia")
    made = fns["campaign_create"]("Sky", SENTENCES, "txt", ["fake"], 2, 1, session_id="",
                                  request=olivia, profile=None)
    updates = fns["open_campaign"](made["id"], "", olivia, None)
    assert leases(store) == 0  # the owner looking at their campaign holds nothing
    shown = by_id(updates)
    assert "Start annotating" in shown["campaign-item"]
    assert shown["campaign-start"].visible is True
    assert "campaign 0 of 2" in shown["campaign-progress"]
    by_id(fns["open_campaign"](made["id"], "", request("a1"), None))
    assert leases(store) == 0
    # Two annotators finish the campaign (overlap 1, two items): nothing is held back.
    for name in ("a1", "a2"):
        started = by_id(fns["start_annotating"](made["id"], "", request(name), None))
        assert started["campaign-start"].visible is False
        item = fns["campaign_next"](made["id"], session_id="", request=request(name),
                                    profile=None)
        fns["campaign_submit"](made["id"], item["item_id"], [item["masks"][0]["options"][:1]],
                               session_id="", request=request(name), profile=None)
    done = fns["campaign_list"](session_id="", request=olivia, profile=None)[0]["progress"]
    assert (done["judged"], done["needed"]) == (2, 2)


def test_a_held_lease_shows_on_the_dashboard(page):
    fns, _, _ = page
    olivia = request("olivia")
    made = fns["campaign_create"]("Held", "Only [MASK] one.\n", "txt", ["fake"], 2, 1,
                                  session_id="", request=olivia, profile=None)
    fns["start_annotating"](made["id"], "", request("a3"), None)
    *_, text = fns["run_dashboard"](made["id"], "", olivia, None)
    assert "1 item(s) held now**; 1 with no room for anyone else" in text
    assert "| a3 |" in text and "| yes |" in text
    assert "{" not in text  # a table, not JSON
    assert "| agreement: pairs who picked the same word(s) | n/a |" in text


def test_from_my_annotations_reads_only_the_callers_rows(page):
    fns, _, store = page
    store.add(session_id="someone-else", preset="fake",
              text="My password is [MASK] banana.", mask_index=4, predictions=[])
    store.add(session_id="olivias-browser", preset="fake", text="The sky is [MASK].",
              mask_index=4, predictions=[])
    before = len(fns["campaign_list"](session_id="", request=request("olivia"),
                                      profile=None))
    form = ["Mine", "my annotations", None, ["fake"], 2, 1, 10,
            "none (sentences have [MASK])", 1, "", ""]
    for missing in (None, ""):  # a raw queue call can send no browser session
        with pytest.raises(gr.Error, match="needs your session_id"):
            fns["run_create"](missing, *form, request("olivia"), None)
    listed = fns["campaign_list"](session_id="", request=request("olivia"), profile=None)
    assert len(listed) == before  # nothing was created from anybody's rows
    fns["run_create"]("olivias-browser", *form, request("olivia"), None)
    newest = fns["campaign_list"](session_id="", request=request("olivia"), profile=None)[0]
    assert newest["name"] == "Mine" and newest["items"] == 1
    item = fns["campaign_next"](newest["id"], session_id="", request=request("a4"),
                                profile=None)
    assert item["text"] == "The sky is [MASK]."


def test_the_page_needs_a_choice_and_offers_none_of_these_fit():
    item = {"masks": [{"options": ["blue", "grey"], "columns": [{"label": "", "words": []}]},
                      {"options": ["red"], "columns": [{"label": "", "words": []}]}]}
    assert choices(item) == [[("1 · blue", "blue"), ("2 · grey", "grey"),
                              ("3 · none of these fit", NONE_FIT)],
                             [("4 · red", "red"), ("5 · none of these fit", NONE_FIT)]]
    assert answer_of([NONE_FIT], "") == {"accepted": [], "typed": None, "none_fit": True}
    assert answer_of(["blue"], "azure") == {"accepted": ["blue"], "typed": "azure",
                                            "none_fit": False}


def _submit_handler(demo):
    button = next(b for b in demo.blocks.values()
                  if getattr(b, "elem_id", None) == "campaign-submit")
    return next(f for f in demo.fns.values()
                if (button._id, "click") in [tuple(t) for t in f.targets])


def test_an_empty_answer_from_the_page_is_refused(page):
    fns, demo, store = page
    made = fns["campaign_create"]("Empty", "Only [MASK] one.\n", "txt", ["fake"], 2, 1,
                                  session_id="", request=request("olivia"), profile=None)
    started = fns["start_annotating"](made["id"], "", request("a5"), None)
    item = next(v for k, v in started.items() if type(k) is gr.State)
    submit = _submit_handler(demo)

    def values(ticked):
        out = {}
        for component in submit.inputs:
            if type(component) is gr.State:
                out[component] = item
            elif isinstance(component, gr.CheckboxGroup):
                out[component] = ticked if "MASK 1" in component.label else []
            else:
                out[component] = ""  # the typed words, the note, the browser session
        return out

    with pytest.raises(gr.Error, match="Answer 1 is empty"):
        submit.fn(values([]), request("a5"), None)
    submit.fn(values([NONE_FIT]), request("a5"), None)
    mine = fns["campaign_undo"](made["id"], session_id="", request=request("a5"),
                                profile=None)
    assert mine["previous"]["answers"] == [{"accepted": [], "typed": None, "none_fit": True}]


def test_review_rows_say_who_picked_what():
    row = review_row({"item_id": 3, "text": "A [MASK].", "judged": 2, "agreement": 0.0,
                      "gold": [None], "votes": [{"had": 1, "got": 1}],
                      "judgments": [{"annotator": "p", "kind": "judged", "note": None,
                                     "answers": [{"accepted": ["had"], "typed": None}]},
                                    {"annotator": "q", "kind": "judged", "note": None,
                                     "answers": [{"none_fit": True, "accepted": []}]}]})
    assert row == [3, "A [MASK].", "p: had; q: none fit", "had 1/2, got 1/2", "unsettled",
                   "0%"]


def test_gold_sentences_are_handed_out_not_left_in_the_data_folder(page, tmp_path):
    fns, demo, store = page
    made = fns["campaign_create"]("Gold", "Only [MASK] one.\n", "txt", ["fake"], 2, 1,
                                  session_id="", request=request("olivia"), profile=None)
    item = fns["campaign_next"](made["id"], session_id="", request=request("a6"),
                                profile=None)
    fns["campaign_submit"](made["id"], item["item_id"], [["blue"]], session_id="",
                           request=request("a6"), profile=None)
    fns["campaign_adjudicate"](made["id"], item["item_id"], ["blue"], session_id="",
                               request=request("olivia"), profile=None)
    with pytest.raises(gr.Error, match="Only the owner"):
        fns["run_gold_texts"](made["id"], "", request("a6"), None)
    path = fns["run_gold_texts"](made["id"], "", request("olivia"), None)
    from gradio.utils import get_upload_folder
    assert path.startswith(get_upload_folder())  # Gradio's cache: a keyed-hash folder
    assert open(path).read() == "Only blue one.\n"
    data = Path(store.engine.url.database).parent
    assert not list(data.rglob("*gold*.txt"))


def test_every_owner_only_endpoint_refuses_an_annotator(page):
    """The endpoint table says which endpoints are the owner's; each one says so to
    anyone else, and each endpoint the page has is in the table (nothing exposed by
    accident)."""
    fns, demo, _ = page
    made = fns["campaign_create"]("Owner's", "Only [MASK] one.\n", "txt", ["fake"], 2, 1,
                                  session_id="", request=request("olivia"), profile=None)
    arguments = {"campaign_adjudicate": (1, ["blue"]), "campaign_evaluate": (["fake"],)}
    owner_only = [name for name, (_, owner) in ENDPOINTS.items() if owner]
    assert len(owner_only) == 6
    for name in owner_only:
        with pytest.raises(gr.Error, match="Only the owner"):
            fns[name](made["id"], *arguments.get(name, ()), session_id="",
                      request=request("a7"), profile=None)
    # callable by programs (unlisted: they read and change people's data)
    callable_ = demo.get_api_info(all_endpoints=True)["named_endpoints"]
    exposed = {n for n in callable_ if n.startswith("/campaign")}
    assert exposed == {f"/{name}" for name in ENDPOINTS}
    assert not any(n.startswith("/campaign") for n in demo.get_api_info()["named_endpoints"])


def test_manage_is_for_owners_and_each_view_says_when_there_is_no_campaign(tmp_path):
    """Annotate for everyone, Manage only for those who may create campaigns; before any
    campaign exists both views say how to make one; picking one hides that."""
    demo, store = build(tmp_path, owners={"olivia"})
    fns = functions(demo)
    try:
        for name, manages in (("olivia", True), ("a1", False)):
            _, badge, manage, annotate_empty, manage_empty = fns["refresh"](
                "", None, request(name), None)
            assert name in badge and manage.visible is manages
            said = [e.value.replace("**", "") for e in (annotate_empty, manage_empty)]
            if manages:
                assert all("No campaign yet: create one from a file of sentences" in text
                           for text in said)
            else:  # no Manage view to point at
                assert "No campaign yet: an owner creates one from a file of" in said[0]
        made = fns["campaign_create"]("Sky", SENTENCES, "txt", ["fake"], 2, 1, session_id="",
                                      request=request("olivia"), profile=None)
        *_, annotate_empty, _ = fns["refresh"]("", None, request("a1"), None)
        assert "Pick a campaign" in annotate_empty.value
        shown = by_id(fns["open_campaign"](made["id"], "", request("olivia"), None))
        assert shown["campaign-annotate-empty"].visible is False
        assert shown["campaign-manage-empty"].visible is False
    finally:
        store.close()


def test_settling_gold_needs_a_picked_review_row(page):
    """The settle form starts empty (never item 0); picking a review row fills it."""
    fns, demo, _ = page
    item_box = next(b for b in demo.blocks.values()
                    if getattr(b, "elem_id", None) == "campaign-settle-item")
    assert not item_box.value and item_box.interactive is False
    made = fns["campaign_create"]("Settle", "Only [MASK] one.\n", "txt", ["fake"], 2, 1,
                                  session_id="", request=request("olivia"), profile=None)
    with pytest.raises(gr.Error, match="Pick an item in the review table"):
        fns["run_settle"](made["id"], "", "blue", False, "", request("olivia"), None)
    rows = [[41, "A [MASK].", "", "", "unsettled", "0%"], [42, "B [MASK].", "", "", "", ""]]
    picked = gr.SelectData(None, {"index": [1, 3], "value": ""})
    assert fns["pick_row"](rows, picked) == ("42", "")


def test_evaluation_says_it_is_running_and_how_long_it_took(page):
    fns, demo, _ = page
    button = next(b for b in demo.blocks.values()
                  if getattr(b, "elem_id", None) == "campaign-evaluate")
    first = next(f for f in demo.fns.values()
                 if (button._id, "click") in [tuple(t) for t in f.targets])
    assert "about 8 s" in first.fn() and first.queue is False  # shown before the run
    olivia = request("olivia")
    made = fns["campaign_create"]("Eval", "Only [MASK] one.\n", "txt", ["fake"], 2, 1,
                                  session_id="", request=olivia, profile=None)
    item = fns["campaign_next"](made["id"], session_id="", request=request("a8"), profile=None)
    fns["campaign_submit"](made["id"], item["item_id"], [["blue"]], session_id="",
                           request=request("a8"), profile=None)
    fns["campaign_adjudicate"](made["id"], item["item_id"], ["blue"], session_id="",
                               request=olivia, profile=None)
    *_, said = fns["run_evaluate"](made["id"], ["fake"], "", olivia, None)
    assert said.startswith("Evaluated 1 preset(s) in ")
