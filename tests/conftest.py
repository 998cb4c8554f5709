"""Shared test set-up: the backend is chosen before anything imports keras."""

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Property tests draw the same examples on every run, so CI's verdict does not depend on
# luck; `pytest --hypothesis-profile=explore` draws fresh ones (what found the 64-bit id).
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("repeatable", derandomize=True)
_hypothesis_settings.register_profile("explore", derandomize=False)
_hypothesis_settings.load_profile("repeatable")


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def settings_read_again(monkeypatch):
    """The library reads its settings once per process (albert_demo/settings.py): each test
    starts from the environment, and one that sets or removes a variable with monkeypatch
    gets it read again at once, as a restarted server would."""
    from albert_demo import settings

    for name in ("setenv", "delenv"):
        def changed(*args, _change=getattr(monkeypatch, name), **kwargs):
            _change(*args, **kwargs)
            settings.reset()
        setattr(monkeypatch, name, changed)
    settings.reset()
    yield
    settings.reset()


def pytest_collection_modifyitems(config, items):
    """`slow` tests stay out unless a mark expression names them: pytest.ini's
    `-m "not slow"` is replaced by any `-m` given on the command line, and the fast loop
    (`-m "not system"`) should not bring them back. `-m ""` still runs everything."""
    expression = config.option.markexpr
    if not expression or "slow" in expression:
        return
    kept = [item for item in items if item.get_closest_marker("slow") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
