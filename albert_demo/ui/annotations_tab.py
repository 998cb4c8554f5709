"""Annotations tab: search, edit and delete one's own rows; import, export; evaluate
presets on the annotated set."""

import gradio as gr

from albert_demo.plots import accuracy_chart
from albert_demo.presets.registry import all_presets
from albert_demo.ui.errors import user_errors
from albert_demo.services.annotations import EXPORT_FORMATS, VERDICT_FILTERS

COLUMNS = ["id", "created (UTC)", "preset", "text", "[MASK] #", "best guess", "verdict",
           "right word", "tag", "note"]


def table_rows(rows):
    """Annotation dicts -> rows for the table (text stays plain text)."""
    out = []
    for r in rows:
        best = r["predictions"][0]["token"] if r["predictions"] else ""
        out.append([r["id"], r["created_at"][:19].replace("T", " "), r["preset"], r["text"],
                    r["mask_ordinal"] + 1, best, r["verdict"] or "", r["correct_token"] or "",
                    r["tag"] or "", r["note"] or ""])
    return out


def build_annotations_tab(context):
    annotations, predictions = context.annotations, context.predictions
    with gr.Row():
        query = gr.Textbox(label="Search text, note or right word", scale=3)
        preset = gr.Dropdown([""], value="", label="Preset", allow_custom_value=True)
        tag = gr.Dropdown([""], value="", label="Tag", allow_custom_value=True)
        verdict = gr.Radio(list(VERDICT_FILTERS), value="any", label="Verdict")
    with gr.Row():
        since = gr.Textbox(label="From (YYYY-MM-DD)", placeholder="2025-01-01")
        until = gr.Textbox(label="Until, exclusive (YYYY-MM-DD)")
        search = gr.Button("Search", variant="primary", elem_id="search-annotations")
    table = gr.Dataframe(headers=COLUMNS, interactive=False, wrap=True,
                         elem_id="annotations-table", label="Your annotations")
    filters = [query, preset, tag, verdict, since, until]

    with gr.Accordion("Edit or delete one of your rows", open=False):
        with gr.Row():
            row_id = gr.Number(label="Row id", precision=0)
            new_verdict = gr.Radio(["right", "wrong"], label="Verdict")
            new_correct = gr.Textbox(label="Right word")
            new_tag = gr.Textbox(label="Tag")
            new_note = gr.Textbox(label="Note")
        with gr.Row():
            update = gr.Button("Update")
            delete = gr.Button("Delete", variant="stop")
        edited = gr.Markdown()

    with gr.Row():
        with gr.Column():
            upload = gr.File(label="Import CSV / JSONL", file_types=[".csv", ".jsonl"])
            do_import = gr.Button("Import")
            imported = gr.Markdown()
        with gr.Column():
            fmt = gr.Radio(list(EXPORT_FORMATS), value="csv", label="Export format "
                           "(hf-dataset: a zip that `datasets.load_dataset` reads)")
            export = gr.Button("Export the rows that match the filters")
            exported = gr.File(label="Download", interactive=False)

    with gr.Accordion("Evaluate presets on the annotated set", open=True):
        presets = gr.CheckboxGroup(list(all_presets()), value=[predictions.default_preset],
                                   label="Presets")
        evaluate = gr.Button("Evaluate", elem_id="evaluate")
        scores = gr.Dataframe(headers=["preset", "masks", "skipped", "top-1", "top-5"],
                              interactive=False)
        chart = gr.Plot(label="Top-1 / top-5 accuracy", elem_id="accuracy-chart")

    @user_errors
    def run_search(session_id, query, preset, tag, verdict, since, until):
        rows = annotations.search(session_id, query, preset, tag, verdict, since,
                                           until)
        presets_seen, tags_seen = annotations.filter_choices(session_id)
        return (table_rows(rows), gr.Dropdown(choices=[""] + presets_seen),
                gr.Dropdown(choices=[""] + tags_seen))

    @user_errors
    def run_update(session_id, ann_id, verdict, correct, tag, note):
        if not ann_id:
            raise gr.Error("Give the id of one of your rows (first column of the table).")
        row = annotations.update(session_id, ann_id, verdict, correct, tag, note)
        return f"Updated row {row['id']}."

    @user_errors
    def run_delete(session_id, ann_id):
        if not ann_id:
            raise gr.Error("Give the id of one of your rows (first column of the table).")
        return f"Deleted row {annotations.delete(session_id, ann_id)['deleted']}."

    @user_errors
    def run_import(session_id, path):
        return f"Imported {annotations.import_file(session_id, path)['imported']} rows."

    @user_errors
    def run_export(session_id, fmt, query, preset, tag, verdict, since, until):
        return annotations.export(session_id, fmt, query, preset, tag, verdict,
                                           since, until)

    @user_errors
    def run_evaluate(session_id, presets, progress=gr.Progress()):
        results = context.evaluation.evaluate(session_id, presets, progress=progress)
        rows = [[r["preset"], r["items"], r["skipped"], round(r["top1"], 4),
                 round(r["top5"], 4)] for r in results]
        return rows, accuracy_chart(results)

    session = context.session
    refresh = dict(fn=run_search, inputs=[session] + filters, outputs=[table, preset, tag])
    search.click(**refresh, api_name="annotations_search")
    query.submit(**refresh, api_name="annotations_search_submit")
    update.click(run_update, [session, row_id, new_verdict, new_correct, new_tag, new_note],
                 [edited], api_name="annotation_update").then(
        **refresh, api_name="annotations_after_update", api_visibility="undocumented")
    delete.click(run_delete, [session, row_id], [edited], api_name="annotation_delete").then(
        **refresh, api_name="annotations_after_delete", api_visibility="undocumented")
    do_import.click(run_import, [session, upload], [imported],
                    api_name="annotations_import").then(
        **refresh, api_name="annotations_after_import", api_visibility="undocumented")
    export.click(run_export, [session, fmt] + filters, [exported],
                 api_name="annotations_export")
    evaluate.click(run_evaluate, [session, presets], [scores, chart], api_name="evaluate")
    return refresh
