"""Attention tab: the maps from the Predict tab's own forward pass, re-plotted (never
re-computed) when the layer, head or display options change."""

import gradio as gr

from albert_demo.plots import attention_heatmap, heads_grid, mask_attention_bars
from albert_demo.ui.errors import user_errors


def attention_figures(found, layer, head, average, hide_special):
    """(heatmap, heads grid, bars from each [MASK]) for the chosen options."""
    if not found:
        return None, None, None
    attention, tokens = found["attention"], found["tokens"]
    layer = min(int(layer), attention.shape[0] - 1)
    head = "mean" if average else min(int(head), attention.shape[1] - 1)
    return (attention_heatmap(attention, tokens, layer, head, hide_special),
            heads_grid(attention, tokens, layer, hide_special),
            mask_attention_bars(attention, tokens, found["mask_indices"], layer, head,
                                hide_special))


def build_attention_tab(context, after_predict):
    gr.Markdown("Attention weights from the same forward pass as the predictions: each "
                "row is a token attending to the columns. Predict first.")
    with gr.Row():
        layer = gr.Slider(0, 11, value=0, step=1, label="Layer")
        head = gr.Slider(0, 11, value=0, step=1, label="Head")
        average = gr.Checkbox(False, label="Average over heads")
        hide = gr.Checkbox(False, label="Hide [CLS] / [SEP]")
    heatmap = gr.Plot(label="Attention map", elem_id="attention-heatmap")
    bars = gr.Plot(label="Attention from each [MASK]", elem_id="mask-attention")
    grid = gr.Plot(label="All heads of the layer", elem_id="attention-grid")

    @user_errors
    def refresh(found, layer, head, average, hide):
        heat, heads, from_mask = attention_figures(found, layer, head, average, hide)
        if not found:
            return gr.Slider(), gr.Slider(), heat, heads, from_mask
        layers, n_heads = found["attention"].shape[:2]
        return (gr.Slider(maximum=layers - 1, value=min(layer, layers - 1)),
                gr.Slider(maximum=n_heads - 1, value=min(head, n_heads - 1)),
                heat, heads, from_mask)

    @user_errors
    def replot(found, layer, head, average, hide):
        heat, heads, from_mask = attention_figures(found, layer, head, average, hide)
        return heat, heads, from_mask

    controls = [context.analysis, layer, head, average, hide]
    for n, event in enumerate(after_predict):
        event.then(refresh, controls, [layer, head, heatmap, grid, bars],
                   api_name=f"attention_refresh_{n}", api_visibility="undocumented")
    for control in (layer, head, average, hide):
        control.input(replot, controls, [heatmap, grid, bars],
                       api_name=f"attention_plot_{control.label.split()[0].lower()}",
                       api_visibility="undocumented")
