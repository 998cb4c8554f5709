"""Where a Hugging Face Space keeps the app's data.

A Space's own disk is wiped on every restart; persistent storage, when the owner enables
it, is mounted at /data. So on a Space (SPACE_ID is set) with a writable /data the data
folder defaults to /data/albert_demo; without one the app says once, at start, that what
it saves vanishes on restart. ALBERT_DEMO_DATA_DIR set by the operator always wins, and
ALBERT_DEMO_DATABASE_URL (a Space secret) keeps annotations in PostgreSQL either way.

    data_dir_for({"SPACE_ID": "me/demo"}, writable=lambda path: True)
    # Storage(data_dir='/data/albert_demo', note=None)
"""

import logging
import os
from typing import NamedTuple

PERSISTENT_MOUNT = "/data"
SPACE_DATA_DIR = "/data/albert_demo"


class Storage(NamedTuple):
    data_dir: str | None  # None: keep the app's default (or the operator's choice)
    note: str | None      # a line to log at start, when what is saved will not last


def is_writable_dir(path):
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def data_dir_for(environ, writable=is_writable_dir):
    """The data folder a Space should use, and a note when its data will not survive."""
    if environ.get("ALBERT_DEMO_DATA_DIR"):
        return Storage(None, None)
    if not environ.get("SPACE_ID"):
        return Storage(None, None)
    if writable(PERSISTENT_MOUNT):
        return Storage(SPACE_DATA_DIR, None)
    kept = ("Fine-tuned models and compiled programs" if environ.get("ALBERT_DEMO_DATABASE_URL")
            else "Annotations, fine-tuned models and compiled programs")
    return Storage(None, f"This Space has no persistent storage: {kept} are lost when it "
                         "restarts. Enable persistent storage in the Space's settings (it is "
                         f"mounted at {PERSISTENT_MOUNT} and used automatically), or set the "
                         "secret ALBERT_DEMO_DATABASE_URL to keep annotations in PostgreSQL.")


def use_space_storage(environ=os.environ, writable=is_writable_dir):
    """app.py, at start: default ALBERT_DEMO_DATA_DIR to persistent storage on a Space, or
    log why saved data will not last. Returns the Storage decided."""
    storage = data_dir_for(environ, writable)
    if storage.data_dir:
        environ["ALBERT_DEMO_DATA_DIR"] = storage.data_dir
        logging.getLogger(__name__).info("Space persistent storage: data in %s",
                                         storage.data_dir)
    if storage.note:
        logging.getLogger(__name__).warning(storage.note)
    return storage
