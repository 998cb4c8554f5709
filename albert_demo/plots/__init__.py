"""Plotly figures for the app: ranked predictions, attention maps, evaluation scores,
token salience, presets compared.

Every function takes plain values (dicts, numpy arrays, lists) and returns a
`plotly.graph_objects.Figure` (the `*_html` ones an HTML string); nothing here knows about
Gradio or the model.
"""

from albert_demo.plots.attention import attention_heatmap, heads_grid, mask_attention_bars
from albert_demo.plots.compare import compare_columns, compare_table_html, divergence_chart
from albert_demo.plots.evaluation import accuracy_chart
from albert_demo.plots.predictions import predictions_chart
from albert_demo.plots.salience import salience_bars, salience_html

__all__ = ["accuracy_chart", "attention_heatmap", "compare_columns", "compare_table_html",
           "divergence_chart", "heads_grid", "mask_attention_bars", "predictions_chart",
           "salience_bars", "salience_html"]
