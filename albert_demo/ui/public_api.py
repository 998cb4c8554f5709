"""Which endpoints programs and agents see: the MCP tools, and the public API listing.

Gradio's MCP server makes every endpoint of the public listing a tool: left alone, that was
all 41 events of the page, saving and deleting annotations among them. Here:

- **MCP tools**: exactly the read-only, bounded endpoints in `MCP_TOOLS`. Gradio's table of
  tools is cut to them, so any other name is refused as an unknown tool, not only unlisted.
- **Public listing** (the API page, `gradio_client`'s view): the program API, i.e. every
  `gr.api` endpoint and the page events in `PROGRAM_EVENTS` that programs call (imports,
  exports, fine-tuning). The rest of the page's events (re-drawing plots, filling forms)
  become "undocumented": callable as before, but neither listed nor a tool.

Stateful program endpoints (annotations, campaigns, fine-tuning) stay listed for now:
gradio_client 2.7 reads parameter names and defaults only for listed endpoints, so hiding
them would break every call that leaves `session_id` or another argument to its default
or passes it by keyword (the campaign API under a login does). Each checks its caller's
`session_id` or login, and none is a tool.

    publish_only(demo)       # once, after every event of the page is wired
"""

# Read-only, bounded by the request limits, useful to an agent: fill masks, score candidate
# words, compare presets, explain a prediction. (Attention maps are read-only too, but a
# reply can be megabytes: not for an agent's context.)
MCP_TOOLS = frozenset({"predict", "score_candidates", "compare", "salience"})
# Page events that programs call through gradio_client (README, docs/app.md, tests).
PROGRAM_EVENTS = frozenset({
    "annotation_delete", "annotations_import", "annotations_export", "evaluate",
    "finetune_preview", "finetune_start", "finetune_cancel", "finetune_resume",
    "campaign_export_download"})


def is_program_api(fn):
    """A `gr.api` endpoint (no page component triggers it) or a named program event."""
    return not fn.targets or fn.api_name in PROGRAM_EVENTS


def publish_only(demo, tools=MCP_TOOLS):
    """List the program API, hide the page's own events, and serve only `tools` over MCP."""
    named = {fn.api_name for fn in demo.fns.values()}
    missing = set(tools) - named
    if missing:  # a renamed endpoint must not silently drop out of the tools
        raise ValueError(f"No endpoint named {', '.join(sorted(missing))} to serve as a tool.")
    for fn in demo.fns.values():
        if fn.api_visibility == "public" and not is_program_api(fn):
            fn.api_visibility = "undocumented"
    limit_mcp_tools(tools)


def limit_mcp_tools(tools):
    """Cut Gradio's MCP table of tools (tool name -> endpoint), which both listing and
    calling read, to the endpoints named in `tools`."""
    from gradio.mcp import GradioMCPServer
    every_public_endpoint = getattr(GradioMCPServer.get_tool_to_endpoint, "__wrapped__",
                                    GradioMCPServer.get_tool_to_endpoint)

    def get_tool_to_endpoint(server):
        return {tool: endpoint for tool, endpoint in every_public_endpoint(server).items()
                if endpoint.lstrip("/") in tools}

    get_tool_to_endpoint.__wrapped__ = every_public_endpoint
    GradioMCPServer.get_tool_to_endpoint = get_tool_to_endpoint
