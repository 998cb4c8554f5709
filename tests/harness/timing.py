"""Timing budgets in tests, widened on a slow machine without editing a test.

    assert seconds < budget(3)                   # 3 s here; 6 s with the scale at 2
    assert p95(loaded) <= budget(2) * p95(idle)  # ratios too

ALBERT_DEMO_TEST_TIME_SCALE (default 1, a number above 0) multiplies every budget. It only
ever widens what the test allows; what the test measures and prints is unchanged.
"""

import os

SCALE_VARIABLE = "ALBERT_DEMO_TEST_TIME_SCALE"


def time_scale(environ=os.environ):
    value = environ.get(SCALE_VARIABLE, "").strip() or "1"
    try:
        scale = float(value)
    except ValueError:
        scale = float("nan")
    if not 0 < scale < float("inf"):
        raise ValueError(f"{SCALE_VARIABLE}={value!r} cannot be used; accepted: a number "
                         "above 0 (2 doubles every timing budget in the tests).")
    return scale


SCALE = time_scale()


def budget(value):
    """A time limit (or a ratio of times) as the test states it, times the machine's scale."""
    return value * SCALE
