"""Remember that an optional module Gradio imports on every request is not installed.

Gradio wraps every event in `MatplotlibBackendMananger`, which runs `import matplotlib`
twice per request and ignores the ImportError. Python does not cache a failed import, so
without matplotlib each request searched every `sys.path` folder twice, on the server's
event loop: 6.6% of the server's CPU under the 50-user load run (py-spy). A `None` entry in
`sys.modules` is Python's own way to say "not importable": the same ImportError, at once.
"""

import importlib.util
import sys

OPTIONAL_PER_REQUEST = ("matplotlib",)


def remember_missing(names=OPTIONAL_PER_REQUEST):
    """Mark the modules that are not installed; returns those marked."""
    marked = []
    for name in names:
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = None  # `import name` now raises ImportError immediately
            marked.append(name)
    return marked
