"""Plotly figures for the app: ranked predictions, attention maps, evaluation scores.

Every function takes plain values (dicts, numpy arrays, lists) and returns a
`plotly.graph_objects.Figure`; nothing here knows about Gradio or the model.
"""

from albert_demo.plots.attention import attention_heatmap, heads_grid, mask_attention_bars
from albert_demo.plots.evaluation import accuracy_chart
from albert_demo.plots.predictions import predictions_chart

__all__ = ["accuracy_chart", "attention_heatmap", "heads_grid", "mask_attention_bars",
           "predictions_chart"]
