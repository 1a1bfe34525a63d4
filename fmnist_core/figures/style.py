"""What every figure shares: the colours, short class names for axes, the layout."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.colors import qualitative

from fmnist_core.classes import CLASS_NAMES

PALETTE = qualitative.D3 + qualitative.Plotly
SHORT = [n.split("/")[0] if n != "Ankle boot" else "Boot" for n in CLASS_NAMES]


def apply_layout(fig: go.Figure, height: int = 360, **kw) -> go.Figure:
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
        **kw,
    )
    return fig
