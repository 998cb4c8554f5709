"""Where a Space keeps its data: persistent /data when there is one, a clear note when not."""

import logging

from albert_demo.spaces.storage import SPACE_DATA_DIR, data_dir_for, use_space_storage

SPACE = {"SPACE_ID": "someone/albert-demo"}


def test_a_space_with_persistent_storage_keeps_data_under_data():
    assert data_dir_for(SPACE, writable=lambda path: path == "/data") == (
        SPACE_DATA_DIR, "/data/.huggingface", None)


def test_a_space_without_persistent_storage_says_annotations_vanish():
    data_dir, hf_home, note = data_dir_for(SPACE, writable=lambda path: False)
    assert data_dir is None and hf_home is None  # the defaults
    assert "Annotations" in note and "lost when it restarts" in note
    assert "persistent storage" in note and "ALBERT_DEMO_DATABASE_URL" in note


def test_with_a_database_annotations_last_but_the_rest_does_not():
    _, _, note = data_dir_for({**SPACE, "ALBERT_DEMO_DATABASE_URL": "postgresql+psycopg://h/db"},
                           writable=lambda path: False)
    assert note.startswith("This Space has no persistent storage: Fine-tuned models")


def test_the_operators_choice_wins_and_nothing_changes_off_a_space():
    chosen = {**SPACE, "ALBERT_DEMO_DATA_DIR": "/elsewhere", "HF_HOME": "/cache"}
    assert data_dir_for(chosen, writable=lambda path: True) == (None, None, None)
    assert data_dir_for({}, writable=lambda path: True) == (None, None, None)


def test_use_space_storage_sets_the_default_and_logs(caplog):
    environ = dict(SPACE)
    use_space_storage(environ, writable=lambda path: True)
    assert environ["ALBERT_DEMO_DATA_DIR"] == SPACE_DATA_DIR
    assert environ["HF_HOME"] == "/data/.huggingface"  # downloaded presets last too
    environ = dict(SPACE)
    with caplog.at_level(logging.WARNING):
        use_space_storage(environ, writable=lambda path: False)
    assert "ALBERT_DEMO_DATA_DIR" not in environ and "HF_HOME" not in environ
    assert "no persistent storage" in caplog.text


def test_a_real_folder_is_checked_for_writing(tmp_path):
    from albert_demo.spaces.storage import is_writable_dir
    assert is_writable_dir(str(tmp_path))
    assert not is_writable_dir(str(tmp_path / "missing"))


def test_the_settings_read_after_it_use_persistent_storage():
    """app.py calls use_space_storage() just before Settings.from_env()."""
    from pathlib import Path

    from albert_demo.settings import Settings
    environ = dict(SPACE)
    use_space_storage(environ, writable=lambda path: True)
    settings = Settings.from_env(environ)
    assert settings.data_dir == Path(SPACE_DATA_DIR)
    assert settings.compilation_cache == Path(SPACE_DATA_DIR) / "jax_cache"
