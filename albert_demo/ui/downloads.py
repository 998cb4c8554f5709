"""Files a handler hands to the person who asked for them, and to nobody else.

The data folder is never served: `app.py` gives Gradio no `allowed_paths`, so
`/gradio_api/file=<path>` answers 403 for every file the app writes there (campaign
exports, annotation exports, fine-tuned models and zips, gold sentences). A file leaves the
server only as the return value of a handler that first checked who is asking (the
campaign's owner, the session that owns the rows or the run). `handout` puts a copy in
Gradio's own file cache, in a folder named by a keyed hash of the content (Gradio's secret
`hash_seed`), and that URL goes to the caller alone; Gradio removes the copy with the rest
of its cache (`delete_cache` in `ui/layout.py`).
"""

from gradio import processing_utils, utils


def handout(path) -> str | None:
    """A copy of `path` in Gradio's cache, ready to return to a `gr.File` output."""
    if not path:
        return None
    return processing_utils.save_file_to_cache(path, utils.get_upload_folder())
