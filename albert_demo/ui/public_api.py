"""Which endpoints programs and agents see: the MCP tools, and the public API listing.

Gradio's MCP server makes every endpoint of the public listing a tool, and the API page
("Use via API", `/gradio_api/info`, `gradio_client`'s `view_api`) shows that same listing:
left alone, that was all 41 events of the page, saving and deleting annotations among them.
Here:

- **Public listing**: only `LISTED`, the read-only, stateless program endpoints: fill
  masks, score candidates, attention, compare presets, explain a prediction, engine
  figures. None reads or writes anyone's data (their optional `session_id` only picks the
  caller's own fine-tuned model to predict with; nothing is stored).
- **Everything else** that was public becomes "undocumented": annotations, campaigns,
  fine-tuning, imports and exports, and the page's own events (re-drawing plots, filling
  forms). The page and `gradio_client` still call them, and each still checks its caller's
  `session_id` or login, but an agent or a reader of the API page does not see them. A new
  endpoint is hidden until it is added to `LISTED` (the safe default).
  gradio_client 2.7 reads parameter names and defaults only for listed endpoints: a hidden
  one takes every argument, positionally, in the endpoint's order (docs/api.md).
- **MCP tools**: exactly the endpoints in `MCP_TOOLS`, a part of `LISTED`. Gradio's table
  of tools is cut to them, so any other name is refused as an unknown tool, not only
  unlisted. A tool's dict or list reply is JSON text (Gradio's own is the Python repr).

Endpoints made "private" where they are defined stay private.

    publish_only(demo)       # once, after every event of the page is wired
"""

import json

# Read-only, stateless, bounded by the request limits: what anyone may see on the API page.
LISTED = frozenset({"predict", "predict_joint", "score_candidates", "attention", "compare",
                    "salience", "engine_stats"})
# Useful to an agent: fill masks, score candidate words, compare presets, explain a
# prediction. (Attention maps are read-only too, but a reply can be megabytes: not for an
# agent's context.)
MCP_TOOLS = frozenset({"predict", "score_candidates", "compare", "salience"})


def publish_only(demo, listed=LISTED, tools=MCP_TOOLS):
    """List only `listed`, hide every other public endpoint, serve only `tools` over MCP,
    as JSON."""
    check_names(demo, listed, tools)
    for fn in demo.fns.values():
        if fn.api_visibility == "public" and fn.api_name not in listed:
            fn.api_visibility = "undocumented"
    limit_mcp_tools(tools)
    answer_mcp_in_json()


def check_names(demo, listed, tools):
    """A renamed endpoint must not silently drop out of the listing or the tools, and a
    tool must be listed (Gradio makes tools of listed endpoints only)."""
    named = {fn.api_name for fn in demo.fns.values()}
    missing = (set(listed) | set(tools)) - named
    if missing:
        raise ValueError(f"No endpoint named {', '.join(sorted(missing))} to list or serve "
                         "as a tool.")
    unlisted = set(tools) - set(listed)
    if unlisted:
        raise ValueError(f"A tool must be listed: {', '.join(sorted(unlisted))} is not.")


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


def answer_mcp_in_json():
    """Gradio's MCP server answers a dict or list output with `str(output)`, a Python repr
    an agent cannot parse as JSON (single quotes, None, True). Such outputs become JSON
    text; files and images stay Gradio's (content of their own, with URLs)."""
    from gradio.mcp import GradioMCPServer
    gradios_own = getattr(GradioMCPServer.postprocess_output_data, "__wrapped__",
                          GradioMCPServer.postprocess_output_data)

    def postprocess_output_data(server, data, root_url):
        content = []
        for output in data:
            text = json_text(output)
            if text is None:
                content.extend(gradios_own(server, [output], root_url))
            else:
                content.append(server.types.TextContent(type="text", text=text))
        return content

    postprocess_output_data.__wrapped__ = gradios_own
    GradioMCPServer.postprocess_output_data = postprocess_output_data


def json_text(output):
    """`output` as JSON text, or None when it is not plain data (no dict or list, or one
    that holds a file Gradio serves by URL, or a value JSON cannot hold)."""
    if not isinstance(output, (dict, list)) or holds_a_file(output):
        return None
    try:
        return json.dumps(output, ensure_ascii=False)
    except (TypeError, ValueError):
        return None


def holds_a_file(value):
    """A file or SVG image as Gradio's MCP server recognises them, at any depth."""
    from gradio.mcp import GradioMCPServer
    from gradio_client.utils import is_file_obj_with_meta
    if isinstance(value, dict):
        return (is_file_obj_with_meta(value) or GradioMCPServer.get_svg(value) is not None
                or any(holds_a_file(v) for v in value.values()))
    if isinstance(value, list):
        return any(holds_a_file(v) for v in value)
    return False
