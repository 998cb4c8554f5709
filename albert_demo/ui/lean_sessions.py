"""Per-session state that costs what a session uses, not what the page has.

Gradio builds a `SessionState` for every new session hash, and every plain-HTTP API call
(`/gradio_api/call/...`) is a new session. Its constructor renders the config of every
block on the page (378 here) into a snapshot that only the deep-link route ever reads:
23 ms of CPU and 560 KB of memory per call, kept for up to 10,000 sessions. On this page
that made plain-HTTP /predict slower as tabs were added, and let one visitor grow the
server by 5 GB with 10,000 cheap requests.

`install()` makes that snapshot lazy: a block's config is rendered when the session
updates it (as before) or when the deep-link route asks for all of them. What the
deep-link route sees is unchanged (`tests/app/test_lean_sessions.py` compares both).

`_lean_init` copies the constructor of the Gradio it was written for (WRITTEN_FOR, pinned
in requirements.txt) field by field. `install()` checks that before patching: on another
Gradio version, or if the constructor now sets other fields, Gradio is left as it is with
one warning.
"""

import logging
import os
from copy import copy

import gradio
from gradio import state_holder

log = logging.getLogger(__name__)

WRITTEN_FOR = "6.31."  # the Gradio release whose SessionState.__init__ _lean_init copies
_original_init = state_holder.SessionState.__init__
_original_components = state_holder.SessionState.components


def _lean_init(self, blocks):
    # Gradio's fields, set as its constructor sets them (the test compares the two sets),
    # except that the snapshot starts empty.
    self.blocks_config = copy(blocks.default_config)
    self._page = blocks  # shared; what the snapshot would hold is derived from it on demand
    self.config_values = {}
    self.state_data = {}
    self._state_ttl = {}
    self.is_closed = False
    self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600


def _lean_components(self):
    # Gradio's order: the page's blocks as they were at the start (rendered now, from the
    # same shared block objects, unless this session replaced them), then blocks the
    # session added later.
    if not hasattr(self, "_page"):  # made before install(): already eager
        yield from _original_components.fget(self)
        return
    initial_blocks = self._page.default_config.blocks
    initial = [k for k in initial_blocks if k in self._page.blocks]
    for key in initial:
        if key not in self.config_values:
            block = initial_blocks[key]
            self.config_values[key] = self.blocks_config.config_for_block(key, [], block)
        if self.config_values[key]:
            yield self.config_values[key]
    initial = set(initial)
    for key, config in list(self.config_values.items()):
        if key not in initial and config:
            yield config


def mismatch():
    """None when `_lean_init` sets exactly the fields Gradio's own constructor sets on this
    Gradio, else what differs. Both constructors run on an empty page."""
    if not gradio.__version__.startswith(WRITTEN_FOR):
        return f"Gradio {gradio.__version__} is installed, the patch was written for {WRITTEN_FOR}x"
    if not isinstance(_original_components, property):
        return "SessionState.components is no longer a property"
    page = gradio.Blocks()
    eager = object.__new__(state_holder.SessionState)
    lean = object.__new__(state_holder.SessionState)
    try:
        _original_init(eager, page)
    except Exception as error:  # noqa: BLE001 -- any failure means the internals moved
        return f"Gradio's SessionState.__init__ failed on an empty page ({error!r})"
    _lean_init(lean, page)
    if set(vars(eager)) != set(vars(lean)) - {"_page"}:
        return (f"SessionState fields differ: Gradio sets {sorted(vars(eager))}, "
                f"the patch {sorted(set(vars(lean)) - {'_page'})}")
    return None


def install():
    """Idempotent; leaves Gradio as it is (with one warning) if its internals have moved."""
    cls = state_holder.SessionState
    if cls.__init__ is _lean_init:
        return True
    problem = mismatch()
    if problem:
        log.warning("Per-session state stays Gradio's own (slower plain-HTTP calls, more "
                    "memory per session): %s", problem)
        return False
    cls.__init__ = _lean_init
    cls.components = property(_lean_components)
    return True


def uninstall():
    """Back to Gradio's own behaviour (tests compare the two)."""
    cls = state_holder.SessionState
    cls.__init__ = _original_init
    cls.components = _original_components
