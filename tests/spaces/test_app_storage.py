"""app.py picks the Space's storage before anything reads the environment."""

import subprocess
import sys
from pathlib import Path


def test_app_decides_storage_first_before_huggingface_hub_reads_hf_home():
    """app.main calls use_space_storage() before Settings.from_env() and before anything
    imports huggingface_hub (which reads HF_HOME once, at import)."""
    script = """
import sys
import app
from albert_demo import settings
from albert_demo.spaces import storage
order = []
class Stop(Exception):
    pass
def from_env(*args, **kwargs):
    order.append("settings")
    raise Stop
storage.use_space_storage = lambda: order.append(
    "storage, hub imported" if "huggingface_hub" in sys.modules else "storage")
settings.Settings.from_env = from_env
try:
    app.main([])
except Stop:
    pass
print(order)
"""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                         text=True, check=True, timeout=120).stdout
    assert out.strip() == "['storage', 'settings']"
