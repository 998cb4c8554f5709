"""Attention tab: the maps from the Predict tab's own forward pass, re-plotted (never
re-computed) when the layer, head or display options change.

Nothing is shown before a prediction exists; the sliders are sized to the model that made
it, and a layer or head typed out of range gets a message naming the range."""

import html

import gradio as gr

from albert_demo.explain import attention_rollout
from albert_demo.plots import attention_heatmap, heads_grid, mask_attention_bars
from albert_demo.ui.errors import user_errors
from albert_demo.ui.figures import plot_value

EMPTY = ("No prediction yet: predict a sentence on the Predict tab and its attention "
         "appears here.")


def attention_figures(found, layer, head, average, hide_special, rollout=False):
    """(heatmap, heads grid, bars from each [MASK]) for the chosen options; with
    `rollout`, the heatmap and bars show attention rolled out through layers 0..layer."""
    if not found:
        return None, None, None
    attention, tokens = found["attention"], found["tokens"]
    layer = min(int(layer), attention.shape[0] - 1)
    head = "mean" if average else min(int(head), attention.shape[1] - 1)
    grid = heads_grid(attention, tokens, layer, hide_special)
    if rollout:
        rolled = attention_rollout(attention)[:, None]  # one "head" per layer
        title = f"Attention rollout through layers 0-{layer} (heads averaged, residual added)"
        heat = attention_heatmap(rolled, tokens, layer, 0, hide_special)
        heat.update_layout(title=title)
        bars = mask_attention_bars(rolled, tokens, found["mask_indices"], layer, 0,
                                   hide_special)
        bars.update_layout(title=f"Rollout from each [MASK] through layers 0-{layer}")
        return heat, grid, bars
    return (attention_heatmap(attention, tokens, layer, head, hide_special), grid,
            mask_attention_bars(attention, tokens, found["mask_indices"], layer, head,
                                hide_special))


def in_range(value, name, count):
    """(index, message): `value` as an index below `count`, or the nearest one with a
    message when it is not one (a typed 7 for a 6-layer model, a blank box)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if number is not None and number.is_integer() and 0 <= number < count:
        return int(number), ""
    nearest = 0 if number is None or number != number else int(min(max(number, 0), count - 1))
    return nearest, (f"{name} {value!r} does not exist: this model has {count} "
                     f"{name.lower()}s, numbered 0 to {count - 1}. Showing {name.lower()} "
                     f"{nearest}.")


def notice_html(message):
    if not message:
        return ""
    return f'<div role="alert" class="attention-notice">{html.escape(message)}</div>'


def build_attention_tab(context, after_predict):
    gr.Markdown("Attention weights from the same forward pass as the predictions: each "
                "row is a token attending to the columns.")
    empty = gr.Markdown(EMPTY, elem_id="attention-empty")
    with gr.Column(visible=False) as shown:
        with gr.Row():
            layer = gr.Slider(0, 1, value=0, step=1, label="Layer", elem_id="attention-layer")
            head = gr.Slider(0, 1, value=0, step=1, label="Head", elem_id="attention-head")
            average = gr.Checkbox(False, label="Average over heads",
                                  elem_id="attention-average")
            hide = gr.Checkbox(False, label="Hide [CLS] / [SEP]")
            rollout = gr.Checkbox(False, label="Rollout across layers (Abnar & Zuidema)",
                                  elem_id="attention-rollout")
        notice = gr.HTML(elem_id="attention-notice")
        heatmap = gr.Plot(label="Attention map", elem_id="attention-heatmap",
                          show_label=False)
        bars = gr.Plot(label="Attention from each [MASK]", elem_id="mask-attention",
                       show_label=False)
        grid = gr.Plot(label="All heads of the layer", elem_id="attention-grid",
                       show_label=False)

    def figures(found, layer, head, average, hide, rollout=False):
        return tuple(plot_value(f) for f in attention_figures(found, layer, head, average,
                                                              hide, rollout))

    @user_errors
    def refresh(found, layer, head, average, hide, rollout):
        """After a prediction: sliders sized to its model; a permalink's layer/head."""
        if not found:
            return (gr.Markdown(visible=True), gr.Column(visible=False), gr.Slider(),
                    gr.Slider(), gr.Checkbox(), "", None, None, None)
        layers, n_heads = found["attention"].shape[:2]
        view = found.get("view")
        messages = []
        if view:  # the page was opened from a link
            average = view["head"] == "mean"
            layer, message = in_range(view["layer"], "Layer", layers)
            messages.append(message)
            if not average:
                head, message = in_range(view["head"], "Head", n_heads)
                messages.append(message)
        layer, head = min(int(layer), layers - 1), min(int(head), n_heads - 1)
        heat, heads, from_mask = figures(found, layer, head, average, hide, rollout)
        return (gr.Markdown(visible=False), gr.Column(visible=True),
                gr.Slider(maximum=layers - 1, value=layer),
                gr.Slider(maximum=n_heads - 1, value=head, interactive=not average),
                gr.Checkbox(value=average), notice_html(" ".join(m for m in messages if m)),
                heat, heads, from_mask)

    @user_errors
    def replot(found, layer, head, average, hide, rollout):
        """Raw values (preprocess=False): a typed number out of range gets our message
        instead of Gradio's range error, and the slider moves to the nearest one."""
        if not found:
            return gr.Slider(), gr.Slider(), "", None, None, None
        layers, n_heads = found["attention"].shape[:2]
        layer_index, layer_message = in_range(layer, "Layer", layers)
        head_index, head_message = in_range(head, "Head", n_heads)
        if average:
            head_message = ""
        heat, heads, from_mask = figures(found, layer_index, head_index, bool(average),
                                         bool(hide), bool(rollout))
        return (gr.Slider(value=layer_index) if layer_message else gr.Slider(),
                gr.Slider(value=head_index) if head_message else gr.Slider(),
                notice_html(" ".join(m for m in (layer_message, head_message) if m)),
                heat, heads, from_mask)

    controls = [context.analysis, layer, head, average, hide, rollout]
    for n, event in enumerate(after_predict):
        event.then(refresh, controls, [empty, shown, layer, head, average, notice, heatmap,
                                       grid, bars],
                   api_name=f"attention_refresh_{n}", api_visibility="undocumented")
    for control in (layer, head, average, hide, rollout):
        control.input(replot, controls, [layer, head, notice, heatmap, grid, bars],
                      preprocess=False,
                      api_name=f"attention_plot_{control.label.split()[0].lower()}",
                      api_visibility="undocumented")
    # The head slider means nothing while the heads are averaged.
    average.change(lambda on: gr.Slider(interactive=not on), [average], [head], queue=False,
                   api_name="attention_head_toggle", api_visibility="undocumented")
