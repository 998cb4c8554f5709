"""Who is annotating: a users-file login, a Hugging Face login (OAuth profile), else the
app's anonymous browser session id, which survives a reload; never a name the client sends.
Through `identity` and through the page's own handlers and API functions (no browser, no
Hub: the real OAuth round trip is not exercised here)."""

from types import SimpleNamespace

import gradio as gr
import gradio.oauth
import pytest

from albert_demo.annotations import AnnotationStore
from albert_demo.campaigns import CampaignService, identity
from albert_demo.engine.errors import InputError
from albert_demo.settings import Settings
from tests.campaigns.conftest import FakeCache

SENTENCES = "The sky is [MASK].\nGrass is [MASK].\n"


def request(username=None, session_hash="tab-1"):
    """What Gradio hands a handler: `username` is set only by its own login."""
    return SimpleNamespace(username=username, session_hash=session_hash)


def hf_profile(username):
    """A `gr.OAuthProfile` as Gradio builds it from the signed session's userinfo."""
    return gr.OAuthProfile({"name": username.title(), "preferred_username": username,
                            "profile": f"https://huggingface.co/{username}",
                            "picture": "https://huggingface.co/avatar.png"})


def test_a_users_file_login_wins_and_owners_may_create():
    alice = identity.from_request(request("alice"), "s", hf_profile("mallory"), {"alice"})
    assert (alice.id, alice.name, alice.verified, alice.may_create) == (
        "user:alice", "alice", True, True)
    bob = identity.from_request(request("bob"), owners={"alice"})
    assert bob.verified and not bob.may_create


def test_a_hugging_face_login_is_the_username_of_the_profile():
    alice = identity.from_request(request(), "", hf_profile("alice"), owners={"alice"})
    assert (alice.id, alice.name, alice.verified, alice.may_create) == (
        "hf:alice", "alice", True, True)
    # Anything with the profile's shape works (Gradio's class is a dict with attributes).
    dict_like = identity.from_request(request(), None, {"preferred_username": "bob"},
                                      owners={"alice"})
    assert (dict_like.id, dict_like.may_create) == ("hf:bob", False)
    # A users-file name and a Hub name are different people.
    assert identity.from_request(request("alice")).id != alice.id


def test_anonymous_is_the_browser_session_unverified_and_never_a_claimed_name():
    one = identity.from_request(request(session_hash="tab-1"), "browser-42")
    reloaded = identity.from_request(request(session_hash="tab-2"), "browser-42")
    assert one == reloaded  # a reload changes Gradio's session hash, not the browser's id
    assert not one.verified and one.id.startswith("anon:")
    assert "browser-42" not in one.id and "browser-42" not in one.name  # stored hashed
    assert identity.from_request(request(), "browser-43").id != one.id
    claimed = identity.from_request(request(), "user:alice")  # a name sent as a session id
    assert claimed.id.startswith("anon:") and not claimed.verified
    # With owners named, only they create; with none named, anyone may (as before logins).
    assert not identity.from_request(request(), "browser-42", owners={"alice"}).may_create
    assert one.may_create


@pytest.mark.parametrize("session_id", [None, "", "   "])
def test_no_login_and_no_session_id_is_refused_with_the_standard_message(session_id):
    with pytest.raises(InputError, match="This request needs your session_id"):
        identity.from_request(request(), session_id)


def test_owners_come_from_the_environment():
    env = {"ALBERT_DEMO_CAMPAIGN_OWNERS": " alice,bob  carol,", "SPACE_ID": "me/demo"}
    config = Settings.from_env(env)
    assert config.campaign_owners == {"alice", "bob", "carol"}
    assert config.space_id == "me/demo"
    assert Settings.from_env({}).campaign_owners == frozenset()
    assert Settings.from_env({}).space_id is None


def build(tmp_path, owners=frozenset()):
    from albert_demo.ui.context import UIContext
    from albert_demo.ui.layout import build_demo
    from tests.harness.services import build_services

    tmp_path.mkdir(parents=True, exist_ok=True)
    store = AnnotationStore(f"sqlite+pysqlite:///{tmp_path / 'annotations.sqlite3'}")
    parts = build_services(FakeCache(), store, tmp_path)
    context = UIContext(parts.predictions, parts.annotations, parts.evaluation, tmp_path,
                        campaigns=CampaignService(store, FakeCache(), owners=owners))
    return build_demo(context), store


@pytest.fixture
def page(tmp_path, monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    demo, store = build(tmp_path)
    yield demo
    store.close()


def functions(demo):
    return {fn.api_name: fn.fn for fn in demo.fns.values() if fn.fn is not None}


def login_buttons(demo):
    """The page config's "Sign in with Hugging Face" buttons (what the browser renders)."""
    return [c for c in demo.config["components"]
            if c["props"].get("elem_id") == "campaign-login"
            and "Sign in with Hugging Face" in str(c["props"].get("value"))]


def test_the_login_button_is_on_the_page_only_on_a_space(tmp_path, monkeypatch, page):
    import gradio.routes

    from albert_demo.ui import campaign_layouts

    assert not login_buttons(page) and not page.expects_oauth
    # A Space with `hf_oauth: true` (the Hub sets OAUTH_CLIENT_ID). Gradio then mounts its
    # /login/huggingface routes and signed-session middleware when the page is built;
    # recorded here instead (that needs gradio[oauth] and the Hub).
    monkeypatch.setenv("SPACE_ID", "me/albert-demo")
    monkeypatch.setattr(gradio.oauth, "OAUTH_CLIENT_ID", "client-id")
    monkeypatch.setattr(campaign_layouts.importlib.util, "find_spec", lambda name: object())
    attached = []
    monkeypatch.setattr(gradio.routes, "attach_oauth", attached.append)
    on_space, store = build(tmp_path / "space")
    try:
        assert len(login_buttons(on_space)) == 1 and on_space.expects_oauth
        assert len(attached) == 1
    finally:
        store.close()


def test_no_login_button_where_oauth_cannot_work(monkeypatch):
    from albert_demo.ui.campaign_layouts import hf_login_available

    assert not hf_login_available(None)  # self-hosted: it would sign in as the host's token
    monkeypatch.setattr(gradio.oauth, "OAUTH_CLIENT_ID", None)  # hf_oauth not enabled
    assert not hf_login_available("me/albert-demo")


def test_the_api_takes_a_session_id_but_never_a_profile_or_a_name(page):
    # Campaign endpoints are undocumented (ui/public_api.py): not on the API page, still
    # callable, so their parameters still matter.
    endpoints = page.get_api_info(all_endpoints=True)["named_endpoints"]
    for name in ("campaign_list", "campaign_next", "campaign_submit", "campaign_undo",
                 "campaign_create", "campaign_export", "campaign_export_download"):
        parameters = [p["parameter_name"] for p in endpoints[f"/{name}"]["parameters"]]
        assert "session_id" in parameters, name
        assert not {"profile", "request", "username", "annotator"} & set(parameters), name


def test_a_reload_keeps_an_anonymous_annotator_and_their_campaign(page):
    fns = functions(page)
    create, listed, next_item, submit = (fns["campaign_create"], fns["campaign_list"],
                                         fns["campaign_next"], fns["campaign_submit"])
    browser = "3f0c9d2e5b7a4c1f8e6d0a9b2c4e6f81"  # what the page's BrowserState holds
    before = request(session_hash="before-reload")
    made = create("Sky", SENTENCES, "txt", ["fake"], 5, 2, session_id=browser,
                  request=before, profile=None)
    item = next_item(made["id"], session_id=browser, request=before, profile=None)
    submit(made["id"], item["item_id"], [{"accepted": ["blue"], "typed": None}],
           session_id=browser, request=before, profile=None)

    after = request(session_hash="after-reload")  # Gradio's hash changes on a reload
    mine = listed(session_id=browser, request=after, profile=None)[0]
    assert mine["you_own_it"] and mine["progress"]["yours"] == 1
    assert next_item(made["id"], session_id=browser, request=after,
                     profile=None)["item_id"] != item["item_id"]  # answered: not again
    other = listed(session_id="another-browser", request=after, profile=None)[0]
    assert not other["you_own_it"] and other["progress"]["yours"] == 0
    with pytest.raises(gr.Error, match="session_id"):
        listed(session_id="", request=after, profile=None)

    # The page's own load hook reads the same BrowserState value.
    whoami = fns["campaigns_on_load"](browser, after, None)[1]
    assert "anonymous" in whoami and "unverified" in whoami
    assert browser not in whoami
    hf_badge = fns["campaigns_on_load"](browser, after, hf_profile("alice"))[1]
    assert "alice" in hf_badge and "unverified" not in hf_badge


def test_a_hugging_face_owner_owns_what_they_create(tmp_path, monkeypatch):
    demo, store = build(tmp_path, owners={"alice"})
    try:
        fns = functions(demo)
        alice = hf_profile("alice")
        made = fns["campaign_create"]("Sky", SENTENCES, "txt", ["fake"], 5, 2,
                                      session_id="", request=request(), profile=alice)
        assert made["owner"] == "alice" and made["you_own_it"]
        figures = fns["campaign_agreement"](made["id"], session_id="", request=request(),
                                            profile=alice)
        assert figures["campaign_id"] == made["id"]
        with pytest.raises(gr.Error, match="may annotate but not create"):
            fns["campaign_create"]("Mine", SENTENCES, "txt", ["fake"], session_id="",
                                   request=request(), profile=hf_profile("bob"))
        with pytest.raises(gr.Error, match="may annotate but not create"):
            fns["campaign_create"]("Anon", SENTENCES, "txt", ["fake"], session_id="b-1",
                                   request=request(), profile=None)
        with pytest.raises(gr.Error, match="Only the owner"):  # the same name, not a login
            fns["campaign_agreement"](made["id"], session_id="hf:alice", request=request(),
                                      profile=None)
    finally:
        store.close()
