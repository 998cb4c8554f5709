"""The annotation endpoints of the launched app, as a `gradio_client` user calls them:
/annotation_update leaves what is not sent, ids must be whole, exports stay out of /tmp."""

import tempfile
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from albert_demo.presets.registry import EMBEDDED_PRESET

pytestmark = pytest.mark.system  # Against a launched app.

SESSION = "annotations-api-session"


@pytest.fixture(scope="module")
def client(app_server):
    return Client(app_server.url, verbose=False)


def test_update_leaves_what_is_not_sent_and_clears_what_is_empty(client):
    row = client.predict("Paris is the [MASK] of France.", EMBEDDED_PRESET, 0, "wrong",
                         "capital", "geo", "first", SESSION, api_name="/annotate")
    after = client.predict(SESSION, row["id"], None, None, None, "edited",
                           api_name="/annotation_update")
    assert (after["verdict"], after["correct_token"], after["tag"], after["note"]) == \
        ("wrong", "capital", "geo", "edited")
    after = client.predict(SESSION, row["id"], "none", None, "", None,
                           api_name="/annotation_update")
    assert (after["verdict"], after["correct_token"], after["tag"], after["note"]) == \
        (None, "capital", None, "edited")
    with pytest.raises(AppError, match="whole number"):
        client.predict(SESSION, 1.5, None, None, None, "x", api_name="/annotation_update")
    with pytest.raises(AppError, match="whole number"):
        client.predict(SESSION, "1.5", api_name="/annotation_delete")


def test_simple_csv_import_states_the_preset(client, tmp_path):
    simple = tmp_path / "simple.csv"
    simple.write_text("text,correct_token\nThe sky is [MASK].,blue\n", encoding="utf-8")
    message = client.predict(SESSION, handle_file(str(simple)),
                             api_name="/annotations_import")
    assert message.startswith("Imported 1 rows. 1 of them named no preset: "
                              f"**{EMBEDDED_PRESET}** was assumed")


def test_exports_are_written_in_the_data_folder_not_tmp(client, app_server):
    temp = Path(tempfile.gettempdir())
    before = set(temp.glob("albert_demo_export_*"))
    for fmt in ("csv", "jsonl", "hf-dataset"):
        path = client.predict(SESSION, fmt, "", "", "", "any", "", "",
                              api_name="/annotations_export")
        assert Path(path).stat().st_size > 0
    assert set(temp.glob("albert_demo_export_*")) == before
    exports = Path(app_server.log.name).parent / "data" / "exports"
    assert len(list(exports.glob("export-*"))) >= 3  # swept after EXPORT_KEEP_S
