"""Timing budgets in tests read one scale factor (tests/harness/timing.py), so a slow
machine widens them with ALBERT_DEMO_TEST_TIME_SCALE instead of an edited test."""

import pytest

from tests.harness.timing import SCALE_VARIABLE, time_scale


def test_the_scale_defaults_to_one_and_reads_the_environment():
    assert time_scale({}) == 1.0
    assert time_scale({SCALE_VARIABLE: " "}) == 1.0
    assert time_scale({SCALE_VARIABLE: "2.5"}) == 2.5


@pytest.mark.parametrize("value", ["0", "-1", "fast", "nan", "inf"])
def test_a_scale_that_cannot_be_used_is_refused(value):
    with pytest.raises(ValueError, match=SCALE_VARIABLE):
        time_scale({SCALE_VARIABLE: value})
