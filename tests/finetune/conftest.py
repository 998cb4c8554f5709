"""Session fixtures for the fine-tuning tests; helpers live in `finetune_helpers.py`."""

import pytest

from finetune_helpers import write_tiny_preset


@pytest.fixture(scope="session")
def tiny_preset(tmp_path_factory):
    return str(write_tiny_preset(tmp_path_factory.mktemp("finetune") / "tiny"))