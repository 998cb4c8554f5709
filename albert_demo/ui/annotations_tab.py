"""Annotations tab: search, edit and delete one's own rows; import, export; evaluate
presets on the annotated set."""

import html

import gradio as gr

from albert_demo.annotations.formats import TEMPLATE_CSV
from albert_demo.engine.errors import whole_number
from albert_demo.plots import accuracy_chart
from albert_demo.presets.registry import all_presets
from albert_demo.services.annotations import EXPORT_FORMATS, VERDICT_FILTERS
from albert_demo.services.evaluation import summary
from albert_demo.ui.downloads import handout
from albert_demo.ui.errors import user_errors

COLUMNS = ["id", "created (UTC)", "preset", "text", "[MASK] #", "best guess", "verdict",
           "right word", "tag", "note"]
SCORE_COLUMNS = ["preset", "masks", "skipped", "top-1", "top-5", "which rows were scored"]
VERDICTS = [("Right", "right"), ("Wrong", "wrong"), ("No verdict", "none")]
EDITABLE = ("verdict", "correct_token", "tag", "note")
PICK_A_ROW = "Click a row in the table, or type its id and press Enter, to edit it here."


def table_rows(rows):
    """Annotation dicts -> rows for the table (text stays plain text)."""
    out = []
    for r in rows:
        best = r["predictions"][0]["token"] if r["predictions"] else ""
        out.append([r["id"], r["created_at"][:19].replace("T", " "), r["preset"], r["text"],
                    r["mask_ordinal"] + 1, best, r["verdict"] or "", r["correct_token"] or "",
                    r["tag"] or "", r["note"] or ""])
    return out


def form_values(row):
    """A row as the edit form shows it ("none" for no verdict, "" for an empty field)."""
    return {"verdict": row["verdict"] or "none", "correct_token": row["correct_token"] or "",
            "tag": row["tag"] or "", "note": row["note"] or ""}


def edits(loaded, verdict, correct, tag, note):
    """The fields the person changed in the form, relative to the row as loaded: "" where
    they emptied one (clear), the new text otherwise; unchanged fields are left out."""
    now = {"verdict": verdict or "none", "correct_token": (correct or "").strip(),
           "tag": (tag or "").strip(), "note": note or ""}
    before = form_values(loaded)
    return {k: v for k, v in now.items() if v != before[k]}


def import_message(result):
    message = f"Imported {result['imported']} rows."
    if result.get("preset_assumed"):
        message += (f" {result['preset_assumed']} of them named no preset: "
                    f"**{result['preset']}** was assumed, and each [MASK]'s position was "
                    "worked out from the text.")
    return message


def row_id(value):
    if value is None or not str(value).strip():
        raise gr.Error("Give the id of one of your rows (first column of the table), or "
                       "click the row.", print_exception=False)
    return whole_number(value, "Row id")


def build_annotations_tab(context):
    """-> the refresh to run whenever the tab is shown (table, filter choices, presets).
    Long on purpose: Gradio wires each handler to components made in the same `with`
    blocks, so layout and thin handlers stay together; the work is in the services."""
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
                         column_widths=["4%", "11%", "18%", "24%", "6%", "7%", "7%", "8%",
                                        "7%", "8%"],
                         elem_id="annotations-table",
                         label="Your annotations (click a row to edit it)")
    filters = [query, preset, tag, verdict, since, until]

    loaded = gr.State(None)  # the row as loaded into the form: what "unchanged" means
    with gr.Accordion("Edit or delete one of your rows", open=False,
                      elem_id="edit-annotation") as edit_box:
        editing = gr.Markdown(PICK_A_ROW)
        with gr.Row():
            ann_id = gr.Textbox(label="Row id (Enter loads it)", max_lines=1,
                                elem_id="edit-row-id")
            new_verdict = gr.Radio(VERDICTS, label="Verdict", elem_id="edit-verdict")
            new_correct = gr.Textbox(label="Right word", elem_id="edit-correct")
            new_tag = gr.Textbox(label="Tag", elem_id="edit-tag")
            new_note = gr.Textbox(label="Note", elem_id="edit-note")
        with gr.Row():
            update = gr.Button("Update (changes only what you edited)",
                               elem_id="update-annotation")
            delete = gr.Button("Delete", variant="stop", elem_id="delete-annotation")
        edited = gr.Markdown(elem_id="edit-result")
    form = [loaded, ann_id, new_verdict, new_correct, new_tag, new_note, editing, edit_box]

    with gr.Row():
        with gr.Column():
            upload = gr.File(label="Import CSV / JSONL", file_types=[".csv", ".jsonl"],
                             elem_id="import-file")
            gr.Markdown("A CSV needs only `text` (with `[MASK]`) and `correct_token`; "
                        "`tag` is optional. Exports import back as they are.")
            with gr.Row():
                do_import = gr.Button("Import", elem_id="import-annotations")
                gr.DownloadButton("Template CSV", value=str(TEMPLATE_CSV),
                                  elem_id="template-csv")
            imported = gr.Markdown(elem_id="import-result")
        with gr.Column():
            fmt = gr.Radio(list(EXPORT_FORMATS), value="csv", label="Export format "
                           "(hf-dataset: a zip that `datasets.load_dataset` reads)")
            export = gr.Button("Export the rows that match the filters")
            # Hidden until an export exists: no empty frame before anything ran.
            exported = gr.File(label="Download", interactive=False, visible=False)

    with gr.Accordion("Evaluate presets on the annotated set", open=True):
        presets = gr.CheckboxGroup(list(all_presets()), value=[predictions.default_preset],
                                   label="Presets (your fine-tuned models too)",
                                   elem_id="evaluate-presets")
        evaluate = gr.Button("Evaluate", elem_id="evaluate")
        scores = gr.Dataframe(headers=SCORE_COLUMNS, interactive=False, wrap=True,
                              label="Scores", elem_id="evaluate-scores")
        chart = gr.Plot(label="Top-1 / top-5 accuracy", elem_id="accuracy-chart",
                        visible=False)

    @user_errors
    def run_search(session_id, query, preset, tag, verdict, since, until):
        rows = annotations.search(session_id, query, preset, tag, verdict, since, until)
        presets_seen, tags_seen = annotations.filter_choices(session_id)
        return (table_rows(rows), gr.Dropdown(choices=[""] + presets_seen),
                gr.Dropdown(choices=[""] + tags_seen))

    @user_errors
    def on_open(session_id, *filter_values):
        """The table and choices as they are now (rows saved on the Predict tab too)."""
        mine = [(f"{name} (fine-tuned, yours)", name)
                for name in context.evaluation.preset_names(session_id)]
        return (*run_search(session_id, *filter_values),
                gr.CheckboxGroup(choices=list(all_presets()) + mine))

    def shown(row):
        values = form_values(row)
        where = (f"Editing row **{row['id']}**: “{html.escape(row['text'])}” ([MASK] "
                 f"{row['mask_ordinal'] + 1}, {html.escape(row['preset'])}).")
        return (row, str(row["id"]), values["verdict"], values["correct_token"],
                values["tag"], values["note"], gr.Markdown(where), gr.Accordion(open=True))

    @user_errors
    def load(session_id, value, current):
        if value is None or not str(value).strip():
            return (gr.skip(),) * len(form)
        number = row_id(value)
        if current and current["id"] == number:  # already in the form: keep the edits
            return (gr.skip(), str(number)) + (gr.skip(),) * (len(form) - 2)
        return shown(annotations.get(session_id, number))

    @user_errors
    def pick(session_id, current, event: gr.SelectData):
        if not event.row_value:
            return (gr.skip(),) * len(form)
        return load(session_id, event.row_value[0], current)

    @user_errors
    def run_update(session_id, value, current, verdict, correct, tag, note):
        number = row_id(value)
        if not current or current["id"] != number:
            raise gr.Error(f"Row {number} is not in the form yet: press Enter in the id "
                           "box (or click the row in the table), edit, then Update.",
                           print_exception=False)
        changed = edits(current, verdict, correct, tag, note)
        if not changed:
            return current, f"Nothing to update: row {number} is as shown."
        row = annotations.update(session_id, number, **changed)
        names = ", ".join("right word" if k == "correct_token" else k for k in changed)
        return row, f"Updated row {row['id']}: {names}."

    @user_errors
    def run_delete(session_id, value):
        return f"Deleted row {annotations.delete(session_id, row_id(value))['deleted']}."

    def clear_form():
        return None, "", None, "", "", "", PICK_A_ROW, gr.skip()

    @user_errors
    def run_import(session_id, path):
        return import_message(annotations.import_file(session_id, path))

    @user_errors
    def run_export(session_id, fmt, query, preset, tag, verdict, since, until):
        return handout(annotations.export(session_id, fmt, query, preset, tag, verdict,
                                          since, until))

    @user_errors
    def run_evaluate(session_id, presets, progress=gr.Progress()):
        results = context.evaluation.evaluate(session_id, presets, progress=progress)
        rows = [[r["preset"], r["items"], r["skipped"], round(r["top1"], 4),
                 round(r["top5"], 4), summary(r)] for r in results]
        return rows, gr.Plot(accuracy_chart(results), visible=True)

    session = context.session
    refresh = dict(fn=run_search, inputs=[session] + filters, outputs=[table, preset, tag])
    search.click(**refresh, api_name="annotations_search")
    query.submit(**refresh, api_name="annotations_search_submit")
    hidden = dict(api_visibility="private")
    table.select(pick, [session, loaded], form, api_name="annotation_pick", **hidden)
    ann_id.submit(load, [session, ann_id, loaded], form, api_name="annotation_load", **hidden)
    update.click(run_update, [session, ann_id, loaded, new_verdict, new_correct, new_tag,
                              new_note], [loaded, edited], api_name="annotation_update_form",
                 **hidden).then(**refresh, api_name="annotations_after_update", **hidden)
    delete.click(run_delete, [session, ann_id], [edited], api_name="annotation_delete").success(
        clear_form, None, form, api_name="annotation_form_clear", **hidden).then(
        **refresh, api_name="annotations_after_delete", api_visibility="undocumented")
    do_import.click(run_import, [session, upload], [imported],
                    api_name="annotations_import").then(
        **refresh, api_name="annotations_after_import", api_visibility="undocumented")
    export.click(run_export, [session, fmt] + filters, [exported],
                 api_name="annotations_export").success(
        lambda: gr.File(visible=True), None, [exported], queue=False,
        api_name="annotations_export_shown", api_visibility="private")
    evaluate.click(run_evaluate, [session, presets], [scores, chart], api_name="evaluate")

    @user_errors
    def annotation_update(session_id: str, ann_id: int, verdict: str | None = None,
                          correct_token: str | None = None, tag: str | None = None,
                          note: str | None = None) -> dict:
        """Change only the fields you send: null (or leaving it out) keeps a field, ""
        clears it, text replaces it; verdict "right"/"wrong", or "" / "none" to clear."""
        return annotations.update(session_id, ann_id, verdict, correct_token, tag, note)

    gr.api(annotation_update, api_name="annotation_update")
    return dict(fn=on_open, inputs=[session] + filters, outputs=[table, preset, tag, presets])
