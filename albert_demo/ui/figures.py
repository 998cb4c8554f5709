"""Plotly figures as `gr.Plot` values without plotly's toolbar.

The toolbar covered chart titles on phones and added ten tab stops per chart; zooming is
not needed to read a ranking or a heatmap, and hovering still shows every value.
"""

import json

from gradio.components.plot import PlotData

CONFIG = {"displayModeBar": False, "responsive": True}


def plot_value(fig):
    """A figure (or None) as the value a `gr.Plot` shows, with `CONFIG` applied."""
    if fig is None:
        return None
    spec = json.loads(fig.to_json())
    spec["config"] = CONFIG
    return PlotData(type="plotly", plot=json.dumps(spec))
