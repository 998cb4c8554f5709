"""The Fine-tune tab: upload -> preview -> settings -> start/cancel -> live progress ->
before/after, probes, download. Layout only; the work is `albert_demo.finetune.service`.

Called inside the caller's `with gr.Tab("Fine-tune"):` block with the `UIContext`: its
`finetune` (the `FinetuneService` app.py built) and `session` (the session id component).
"""

from pathlib import Path

import gradio as gr

from albert_demo.finetune.data import FinetuneDataError, max_upload_bytes
from albert_demo.finetune.service import (loss_figure, metrics_rows, probe_rows,
                                          progress_text)
from albert_demo.finetune.settings import FinetuneSettings
from albert_demo.ui.downloads import handout
from albert_demo.ui.errors import user_errors

DEFAULTS = FinetuneSettings()


def without_server_paths(state):
    """A run's state for API callers: file names only, never where the server keeps them."""
    zip_path = state.get("zip_path")
    state = {k: v for k, v in state.items() if k not in ("preset_dir", "checkpoint", "run_dir",
                                                          "zip_path")}
    state["zip_file"] = Path(zip_path).name if zip_path else None
    return state


def build_finetune_tab(context, to_compare=None):
    """The Fine-tune tab; `to_compare` (from the Compare tab, if any) lets a finished run
    open there. Returns the page-load refresh. Long on purpose: Gradio wires each handler
    to components made in the same `with` blocks, so layout and thin handlers stay
    together; the work is in the services."""
    service, session = context.finetune, context.session
    limit_mb = max_upload_bytes() / 1e6

    gr.Markdown("Train a copy of a model on your own text, compare it with the original, "
                f"and download it. Uploads: .txt/.md (a passage per line or paragraph), "
                f".csv/.jsonl (choose the text column), up to {limit_mb:.1f} MB. The result "
                "is yours alone: it appears as `finetuned/<name>` in your preset lists.")
    with gr.Row():
        with gr.Column():
            upload = gr.File(label="Training text", file_types=[".txt", ".md", ".csv",
                                                                ".jsonl"], type="filepath",
                             elem_id="finetune-upload")
            column = gr.Dropdown(label="Text column / field", choices=[], visible=False,
                                 allow_custom_value=True)
            use_annotations = gr.Checkbox(label="Also use my annotations as training data "
                                          "(sentences whose masks all have a gold word)")
            preview_button = gr.Button("Preview", elem_id="finetune-preview-button")
            preview_json = gr.JSON(label="Preview: counts and a few passages as read",
                                   elem_id="finetune-preview")
        with gr.Column():
            base = gr.Dropdown(label="Base preset", choices=service.base_choices(None),
                               value=DEFAULTS.base_preset, allow_custom_value=False)
            name = gr.Textbox(label="Name of the new model", value=DEFAULTS.name,
                              elem_id="finetune-name")
            with gr.Row():
                steps = gr.Number(label="Steps", value=DEFAULTS.steps, precision=0,
                                  elem_id="finetune-steps")
                epochs = gr.Number(label="Epochs (overrides steps if > 0)", value=0,
                                   precision=0)
            with gr.Row():
                learning_rate = gr.Number(label="Learning rate", value=DEFAULTS.learning_rate)
                batch_size = gr.Number(label="Batch size", value=DEFAULTS.batch_size,
                                       precision=0, elem_id="finetune-batch-size")
            with gr.Row():
                sequence_length = gr.Number(label="Sequence length",
                                            value=DEFAULTS.sequence_length, precision=0,
                                            elem_id="finetune-sequence-length")
                mask_rate = gr.Slider(0.05, 0.5, value=DEFAULTS.mask_rate, step=0.01,
                                      label="Masking rate")
            with gr.Row():
                validation_share = gr.Slider(0.0, 0.5, value=DEFAULTS.validation_share,
                                             step=0.05, label="Validation share")
                freeze = gr.Checkbox(label="Freeze the backbone (train the head only)")
            probes = gr.Textbox(label="Probe sentences (one per line, with [MASK])",
                                placeholder="Empty: made from your held-out lines, one "
                                "content word masked in each (Preview shows them).",
                                lines=3, elem_id="finetune-probes")
            with gr.Row():
                start = gr.Button("Start", variant="primary", elem_id="finetune-start")
                cancel = gr.Button("Cancel", variant="stop", elem_id="finetune-cancel")
                resume = gr.Button("Resume interrupted", elem_id="finetune-resume")
            keep = gr.Checkbox(label="On cancel, keep what was trained (publish it as a "
                               "model); otherwise a cancelled run saves nothing",
                               elem_id="finetune-keep")
    progress = gr.Markdown("No training yet.", elem_id="finetune-progress")
    loss_plot = gr.Plot(label="Training loss", elem_id="finetune-loss")
    metrics = gr.Dataframe(headers=["metric", "before", "after", "change"],
                           label="Validation split, before and after", interactive=False,
                           elem_id="finetune-metrics")
    probe_table = gr.Dataframe(headers=["probe", "base model", "fine-tuned model"],
                               label="Probe sentences: each model's top 5 per [MASK]",
                               interactive=False, wrap=True,
                               column_widths=["40%", "30%", "30%"],
                               elem_id="finetune-probe-table")
    download = gr.File(label="Download the preset (zip, loads in keras-hub)",
                       elem_id="finetune-download")
    compare = gr.Button("Compare with the base model", elem_id="finetune-compare",
                        visible=to_compare is not None)
    timer = gr.Timer(1.0, active=False)

    # -- handlers: plain functions of plain values ----------------------------------
    @user_errors
    def on_upload(path):
        found = service.inspect(path)
        table = found["kind"] in ("csv", "jsonl")
        return gr.Dropdown(choices=found["columns"], value=found["column"], visible=table)

    @user_errors
    def finetune_preview(session_id, path, column, annotations, base_preset, length, share):
        checked = FinetuneSettings(sequence_length=length or DEFAULTS.sequence_length,
                                   validation_share=share).checked()
        return service.preview(session_id, path, column, annotations, base_preset,
                               checked.sequence_length, checked.validation_share)

    def suggest_probes(found, current):
        """Fill an empty probe box with the probes the run would make."""
        if (current or "").strip() or not isinstance(found, dict):
            return current
        return "\n".join(found.get("probes") or [])

    @user_errors
    def finetune_start(session_id, path, column, annotations, base_preset, model_name,
                       n_steps, n_epochs, lr, batch, length, rate, share, frozen,
                       probe_text):
        if probe_text is not None and not isinstance(probe_text, str):
            raise FinetuneDataError("Probe sentences must be text, one per line.")
        # Raw values: FinetuneSettings.checked() turns each into a number or says which
        # setting is wrong (API callers can send any JSON type).
        settings = FinetuneSettings(
            name=model_name, base_preset=base_preset,
            steps=0 if n_steps in (None, "") else n_steps, epochs=n_epochs or None,
            learning_rate=lr, batch_size=batch, sequence_length=length, mask_rate=rate,
            freeze_backbone=bool(frozen), validation_share=share,
            probes=tuple(line.strip() for line in (probe_text or "").splitlines()))
        state = service.start(session_id, settings, path, column, annotations)
        return (*view(state), gr.Timer(active=True))

    @user_errors
    def finetune_cancel(session_id, keep_trained=False):
        """Stop this session's run; keep_trained: publish what was trained so far."""
        return service.cancel(session_id, keep=bool(keep_trained))["message"]

    @user_errors
    def finetune_resume(session_id):
        """Continue this session's run that a server restart interrupted."""
        state = service.resume(session_id)
        return (*view(state), gr.Timer(active=True))

    @user_errors
    def finetune_status(session_id: str = "") -> dict:
        """Progress, loss history and (when finished) results of this session's run."""
        return without_server_paths(service.status(session_id))

    @user_errors
    def finetune_result(session_id: str = "") -> dict:
        """The finished run: before/after metrics, probes, model name, the zip's name (the
        zip itself is /finetune_start's and the page's download)."""
        state = without_server_paths(service.status(session_id))
        return {k: state.get(k) for k in ("status", "model_name", "before", "after",
                                           "probes", "zip_file", "step", "message")}

    def view(state):
        done = state.get("zip_path")
        return (progress_text(state), loss_figure(state.get("history")),
                metrics_rows(state), probe_rows(state), handout(done))

    def poll(session_id):
        state = service.status(session_id)
        return (*view(state), gr.Timer(active=bool(state.get("active"))))

    @user_errors
    def compare_with_base(session_id):
        """Open the Compare tab with the base preset and this session's finished model."""
        job, state = service.job(session_id), service.status(session_id)
        if job is None or not state.get("model_name"):
            raise FinetuneDataError("No fine-tuned model of yours yet: when a run has "
                                    "finished, this compares it with its base preset.")
        return (gr.Tabs(selected="compare"),
                gr.Dropdown(value=[job.settings.base_preset, state["model_name"]],
                            allow_custom_value=True))

    def refresh_bases(session_id):
        return gr.Dropdown(choices=service.base_choices(session_id))

    outputs = [progress, loss_plot, metrics, probe_table, download]
    upload.change(on_upload, [upload], [column], api_name="finetune_columns")
    preview_button.click(finetune_preview, [session, upload, column, use_annotations, base,
                                            sequence_length, validation_share],
                         [preview_json], api_name="finetune_preview").then(
        suggest_probes, [preview_json, probes], [probes], api_visibility="private")
    start.click(finetune_start, [session, upload, column, use_annotations, base, name, steps,
                                 epochs, learning_rate, batch_size, sequence_length,
                                 mask_rate, validation_share, freeze, probes],
                outputs + [timer], api_name="finetune_start")
    cancel.click(finetune_cancel, [session, keep], [progress], api_name="finetune_cancel")
    resume.click(finetune_resume, [session], outputs + [timer], api_name="finetune_resume")
    timer.tick(poll, [session], outputs + [timer], api_name="finetune_poll",
               api_visibility="private")
    if to_compare is not None:
        compare.click(compare_with_base, [session], [context.tabs, to_compare["presets"]],
                      api_name="finetune_compare", api_visibility="undocumented").success(
            **to_compare["run"], api_name="finetune_compare_run",
            api_visibility="undocumented")
    base.focus(refresh_bases, [session], [base], api_name="finetune_bases",
               api_visibility="private")
    gr.api(finetune_status, api_name="finetune_status")
    gr.api(finetune_result, api_name="finetune_result")
    # For the page load: shows a running, finished or interrupted run of this session.
    return dict(fn=poll, inputs=[session], outputs=outputs + [timer])
