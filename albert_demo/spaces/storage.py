"""Where a Hugging Face Space keeps the app's data.

A Space's own disk is wiped on every restart; persistent storage, when the owner enables
it, is mounted at /data. So on a Space (SPACE_ID is set) with a writable /data the data
folder defaults to /data/albert_demo, and the Hugging Face cache (HF_HOME) to
/data/.huggingface, so downloaded official presets survive a restart too; without one the
app says once, at start, that what it saves vanishes on restart. Variables set by the
operator always win, and ALBERT_DEMO_DATABASE_URL (a Space secret) keeps annotations in
PostgreSQL either way.

    data_dir_for({"SPACE_ID": "me/demo"}, writable=lambda path: True)
    # Storage(data_dir='/data/albert_demo', hf_home='/data/.huggingface', note=None)
"""

import logging
import os
from typing import NamedTuple

PERSISTENT_MOUNT = "/data"
SPACE_DATA_DIR = "/data/albert_demo"
SPACE_HF_HOME = "/data/.huggingface"  # what the Hub's docs suggest for persistent storage


class Storage(NamedTuple):
    data_dir: str | None  # None: keep the app's default (or the operator's choice)
    hf_home: str | None   # None: keep huggingface_hub's default (or the operator's)
    note: str | None      # a line to log at start, when what is saved will not last


def is_writable_dir(path):
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def data_dir_for(environ, writable=is_writable_dir):
    """The data folder a Space should use, and a note when its data will not survive."""
    if not environ.get("SPACE_ID"):
        return Storage(None, None, None)
    hf_home = None if environ.get("HF_HOME") else SPACE_HF_HOME
    if environ.get("ALBERT_DEMO_DATA_DIR"):
        return Storage(None, hf_home if writable(PERSISTENT_MOUNT) else None, None)
    if writable(PERSISTENT_MOUNT):
        return Storage(SPACE_DATA_DIR, hf_home, None)
    kept = ("Fine-tuned models and compiled programs" if environ.get("ALBERT_DEMO_DATABASE_URL")
            else "Annotations, fine-tuned models and compiled programs")
    return Storage(None, None, f"This Space has no persistent storage: {kept} are lost when it "
                         "restarts. Enable persistent storage in the Space's settings (it is "
                         f"mounted at {PERSISTENT_MOUNT} and used automatically), or set the "
                         "secret ALBERT_DEMO_DATABASE_URL to keep annotations in PostgreSQL.")


def use_space_storage(environ=os.environ, writable=is_writable_dir):
    """app.py, at start (before huggingface_hub is imported, which reads HF_HOME once):
    default ALBERT_DEMO_DATA_DIR and HF_HOME to persistent storage on a Space, or log why
    saved data will not last. Returns the Storage decided."""
    storage = data_dir_for(environ, writable)
    if storage.data_dir:
        environ["ALBERT_DEMO_DATA_DIR"] = storage.data_dir
        logging.getLogger(__name__).info("Space persistent storage: data in %s",
                                         storage.data_dir)
    if storage.hf_home:
        environ["HF_HOME"] = storage.hf_home
    if storage.note:
        logging.getLogger(__name__).warning(storage.note)
    return storage
