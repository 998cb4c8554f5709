"""Gradio's per-session snapshot, made lazy (albert_demo/ui/lean_sessions.py): the same
fields and the same deep-link components as Gradio's own, and nothing rendered until asked.
"""

import gradio as gr
import pytest
from gradio import state_holder
from gradio.blocks import BlocksConfig

from albert_demo.ui import lean_sessions


def small_page():
    with gr.Blocks() as demo:
        text = gr.Textbox("hello", label="Text")
        gr.Number(3, label="k")
        gr.State({"kept": 1})
        with gr.Tab("Second"):
            gr.Dropdown(["a", "b"], value="a", label="Pick")
            out = gr.Markdown("out")
        text.submit(lambda s: s, text, out)
    return demo


def sessions(demo):
    """(Gradio's, lean) for the same page, each updated the same way."""
    lean_sessions.uninstall()
    try:
        eager = state_holder.SessionState(demo)
    finally:
        assert lean_sessions.install()
    lean = state_holder.SessionState(demo)
    return eager, lean


@pytest.fixture(autouse=True)
def installed():
    lean_sessions.install()
    yield
    lean_sessions.install()


def test_same_fields_as_gradios_own():
    eager, lean = sessions(small_page())
    extra = {"_page"}
    assert set(vars(eager)) == set(vars(lean)) - extra


def test_deep_link_components_unchanged_with_and_without_updates():
    demo = small_page()
    eager, lean = sessions(demo)
    assert list(lean.components) == list(eager.components)
    textbox_id = next(k for k, b in demo.blocks.items() if isinstance(b, gr.Textbox))
    for session in (eager, lean):  # a handler's update replaces the session's block
        session[textbox_id] = gr.Textbox("changed", label="Text")
        session._update_value_in_config(textbox_id, "typed")
    assert list(lean.components) == list(eager.components)
    assert any(c.get("props", {}).get("value") == "typed" for c in lean.components)


def test_a_new_session_renders_nothing(monkeypatch):
    """What made every plain-HTTP call cost 23 ms and 560 KB on the app's 378-block page."""
    rendered = []
    original = BlocksConfig.config_for_block

    def counting(*args, **kwargs):
        rendered.append(args[0])
        return original(*args, **kwargs)

    demo = small_page()
    monkeypatch.setattr(BlocksConfig, "config_for_block", staticmethod(counting))
    session = state_holder.SessionState(demo)
    assert rendered == []
    list(session.components)  # the deep-link route still gets every block
    assert len(rendered) == len([k for k in demo.default_config.blocks if k in demo.blocks])


def test_install_is_idempotent_and_reversible():
    assert lean_sessions.install() and lean_sessions.install()
    lean_sessions.uninstall()
    assert state_holder.SessionState.__init__ is not lean_sessions._lean_init
    assert lean_sessions.install()
    assert state_holder.SessionState.__init__ is lean_sessions._lean_init


def test_a_missing_optional_module_is_looked_up_once(monkeypatch, tmp_path):
    """Gradio imports matplotlib around every event; uninstalled, that searched sys.path
    twice per request. Marked missing, the import fails at once and finds nothing."""
    import importlib
    import sys

    from albert_demo.ui import missing_imports
    name = "albert_demo_surely_not_installed"
    monkeypatch.delitem(sys.modules, name, raising=False)
    searches = []
    real_find_spec = importlib.machinery.PathFinder.find_spec

    def counting_find_spec(fullname, *args, **kwargs):
        if fullname == name:
            searches.append(fullname)
        return real_find_spec(fullname, *args, **kwargs)

    monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", counting_find_spec)
    assert missing_imports.remember_missing((name,)) == [name]
    before = len(searches)
    for _ in range(3):
        with pytest.raises(ImportError):
            importlib.import_module(name)
    assert len(searches) == before  # no further sys.path searches
    assert missing_imports.remember_missing(("json",)) == []  # installed: left alone
    monkeypatch.delitem(sys.modules, name)


def test_another_gradio_version_is_left_unpatched_with_one_warning(monkeypatch, caplog):
    """The patch copies one Gradio release's constructor: on any other, Gradio stays as it
    is and the server says so once."""
    import gradio
    lean_sessions.uninstall()
    monkeypatch.setattr(gradio, "__version__", "6.40.0")
    with caplog.at_level("WARNING", logger=lean_sessions.__name__):
        assert lean_sessions.install() is False
    assert state_holder.SessionState.__init__ is lean_sessions._original_init
    warnings = [r for r in caplog.records if r.name == lean_sessions.__name__]
    assert len(warnings) == 1 and "6.40.0" in warnings[0].getMessage()


def test_a_constructor_with_other_fields_is_left_unpatched(monkeypatch, caplog):
    """The field comparison runs at install, not only here in the tests."""
    original = lean_sessions._original_init

    def gradio_with_a_new_field(self, blocks):
        original(self, blocks)
        self.new_field = {}

    lean_sessions.uninstall()
    monkeypatch.setattr(lean_sessions, "_original_init", gradio_with_a_new_field)
    assert "new_field" in lean_sessions.mismatch()
    with caplog.at_level("WARNING", logger=lean_sessions.__name__):
        assert lean_sessions.install() is False
    assert state_holder.SessionState.__init__ is not lean_sessions._lean_init
    assert "new_field" in caplog.text


def test_the_server_installs_the_patches_at_start():
    import app
    lean_sessions.uninstall()
    app.patch_gradio()
    assert state_holder.SessionState.__init__ is lean_sessions._lean_init
