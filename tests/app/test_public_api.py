"""What the built page lists (no server): only the read-only, stateless endpoints; the ones
that read or change someone's data stay callable but unlisted; MCP tools answer in JSON.
The launched app is checked with gradio_client and the `mcp` client in test_programs.py."""

import json

import gradio as gr
import pytest
from gradio.mcp import GradioMCPServer

from albert_demo.annotations import AnnotationStore
from albert_demo.campaigns import CampaignService
from albert_demo.finetune import FinetuneService
from albert_demo.ui.public_api import LISTED, MCP_TOOLS, publish_only
from tests.campaigns.conftest import FakeCache
from tests.harness.services import build_services

# Every endpoint that reads or changes someone's data, with every tab that saves data on.
STATEFUL = {"annotate", "annotation_update", "annotation_delete", "annotations_import",
            "annotations_export", "evaluate", "save_annotation", "finetune_preview",
            "finetune_start", "finetune_cancel", "finetune_resume", "finetune_status",
            "finetune_result", "campaign_list", "campaign_create", "campaign_next",
            "campaign_submit", "campaign_skip", "campaign_flag", "campaign_undo",
            "campaign_agreement", "campaign_review", "campaign_adjudicate",
            "campaign_evaluate", "campaign_export", "campaign_export_download"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from albert_demo.ui.context import UIContext
    from albert_demo.ui.layout import build_demo
    folder = tmp_path_factory.mktemp("public_api")
    store = AnnotationStore(f"sqlite+pysqlite:///{folder / 'annotations.sqlite3'}")
    parts = build_services(FakeCache(), store, folder)
    context = UIContext(parts.predictions, parts.annotations, parts.evaluation, folder,
                        finetune=FinetuneService(folder),
                        campaigns=CampaignService(store, FakeCache()))
    yield build_demo(context)
    store.close()


def endpoints(demo, all_endpoints=False):
    return set(demo.get_api_info(all_endpoints=all_endpoints)["named_endpoints"])


def test_the_listing_is_exactly_the_read_only_endpoints(demo):
    assert endpoints(demo) == {f"/{name}" for name in LISTED}
    assert not {f"/{name}" for name in STATEFUL} & endpoints(demo)


def test_stateful_endpoints_stay_callable_but_unlisted(demo):
    every = demo.get_api_info(all_endpoints=True)["named_endpoints"]
    assert {f"/{name}" for name in STATEFUL} <= set(every)  # the page and programs call them
    assert {every[f"/{name}"]["api_visibility"] for name in STATEFUL} == {"undocumented"}
    # private stays private: the page's own load and refresh events are nowhere
    assert not {"/session", "/preset_choices", "/annotations_on_load"} & set(every)


def test_a_new_endpoint_is_hidden_unless_listed(monkeypatch):
    for name in ("get_tool_to_endpoint", "postprocess_output_data"):  # restored after
        monkeypatch.setattr(GradioMCPServer, name, getattr(GradioMCPServer, name))
    def echo(text: str) -> str:
        return text

    with gr.Blocks() as demo:
        for name in ("old_reader", "new_writer"):
            gr.api(echo, api_name=name)
        with pytest.raises(ValueError, match="No endpoint named renamed"):
            publish_only(demo, listed={"old_reader", "renamed"}, tools=set())
        with pytest.raises(ValueError, match="A tool must be listed: new_writer"):
            publish_only(demo, listed={"old_reader"}, tools={"new_writer"})
    publish_only(demo, listed={"old_reader"}, tools={"old_reader"})
    assert endpoints(demo) == {"/old_reader"}
    assert endpoints(demo, all_endpoints=True) == {"/old_reader", "/new_writer"}


def test_mcp_serves_only_the_tools_and_answers_in_json(demo):
    server = GradioMCPServer(demo)
    assert {endpoint.lstrip("/") for endpoint in server.get_tool_to_endpoint().values()} \
        == MCP_TOOLS
    reply = {"word": "café", "score": 0.5, "missing": None, "whole": True, "ids": [1, 2]}
    [content] = server.postprocess_output_data([reply], "http://127.0.0.1:7860")
    assert json.loads(content.text) == reply and "café" in content.text
    [content] = server.postprocess_output_data([[reply]], "http://127.0.0.1:7860")
    assert json.loads(content.text) == [reply]
    # Anything else is Gradio's as before: text as it is, a file as its URL.
    [text] = server.postprocess_output_data(["plain text"], "http://127.0.0.1:7860")
    assert text.text == "plain text"
    file = {"path": "/tmp/export.csv", "url": "http://127.0.0.1:7860/file=x.csv",
            "meta": {"_type": "gradio.FileData"}}
    [link] = server.postprocess_output_data([file], "http://127.0.0.1:7860")
    assert link.text == file["url"]


def test_patching_twice_wraps_gradios_own_once(demo):
    publish_only(demo)
    publish_only(demo)
    wrapped = GradioMCPServer.postprocess_output_data.__wrapped__
    assert not hasattr(wrapped, "__wrapped__") and wrapped.__module__ == "gradio.mcp"
