"""Which endpoints the public API listing shows, and so which Gradio serves as MCP tools.

Gradio lists every event whose `api_visibility` is "public" on the API page, and its MCP
server makes each of them a tool: left alone, that was all 41 events of the page, among them
saving and deleting annotations, campaign imports and exports. Only the read-only,
bounded endpoints below are listed. Every other event keeps its name and stays callable by
`gradio_client` ("undocumented": the page and existing programs use them, each checking
its caller's `session_id` or login), but is neither on the API page nor a tool; "private"
events stay private.

    publish_only(demo)       # once, after every event of the page is wired
"""

# Read-only, bounded by the request limits, and useful to an agent: fill masks, score
# candidate words, compare presets, explain a prediction.
PUBLIC_ENDPOINTS = frozenset({"predict", "score_candidates", "compare", "salience"})


def publish_only(demo, names=PUBLIC_ENDPOINTS):
    """Make every public event of `demo` not named in `names` "undocumented"."""
    unknown = set(names) - {fn.api_name for fn in demo.fns.values()}
    if unknown:  # a renamed endpoint must not silently drop out of the listing
        raise ValueError(f"No event named {', '.join(sorted(unknown))} to publish.")
    for fn in demo.fns.values():
        if fn.api_visibility == "public" and fn.api_name not in names:
            fn.api_visibility = "undocumented"
