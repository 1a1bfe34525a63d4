"""Figures of an embedding: the map of the test images, PCA's explained variance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from fmnist_core.classes import CLASS_NAMES, NUM_CLASSES
from fmnist_core.figures.style import PALETTE, apply_layout

# A figure whose layout.meta is this shows each point's image on hover (ui/hover_images.py)
HOVER_IMAGES_META = "fmnist-hover-images"


def embedding_figure(
    coords: np.ndarray,
    labels: np.ndarray,
    color_by: str = "true class",
    predicted: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
    indices: np.ndarray | None = None,
    placed: np.ndarray | None = None,
) -> go.Figure:
    """2-D or 3-D scatter of an embedding. Each point's customdata is its row, so a selection
    maps back to the images; one trace per legend entry so the legend hides and isolates."""
    dims = coords.shape[1]
    n = len(coords)
    indices = np.arange(n) if indices is None else indices
    rows = np.arange(n)
    pred_names = [CLASS_NAMES[p] for p in predicted] if predicted is not None else None
    if color_by == "predicted class" and predicted is not None:
        groups = [(CLASS_NAMES[c], predicted == c, PALETTE[c]) for c in range(NUM_CLASSES)]
    elif color_by == "right / wrong" and predicted is not None:
        right = predicted == labels
        groups = [("right", right, "#2ca02c"), ("wrong", ~right, "#d62728")]
    else:
        groups = [(CLASS_NAMES[c], labels == c, PALETTE[c]) for c in range(NUM_CLASSES)]
    scatter = go.Scattergl if dims == 2 else go.Scatter3d
    fig = go.Figure()
    hover = "#%{customdata[1]}<br>true: %{customdata[2]}"
    if pred_names is not None:
        hover += "<br>predicted: %{customdata[3]} (%{customdata[4]:.0%})"
    for name, mask, color in groups:
        if not mask.any():
            continue
        custom = [
            [int(r), int(indices[r]), CLASS_NAMES[labels[r]]]
            + (
                [pred_names[r], float(confidence[r])]
                if pred_names is not None and confidence is not None
                else []
            )
            for r in rows[mask]
        ]
        marker = dict(size=5 if dims == 2 else 3, color=color, opacity=0.75)
        if color_by == "confidence" and confidence is not None:
            marker = dict(size=marker["size"], color=confidence[mask], colorscale="Viridis",
                          cmin=0, cmax=1, opacity=0.8, showscale=name == CLASS_NAMES[0],
                          colorbar=dict(title="confidence", len=0.6))  # fmt: skip
        xyz = dict(x=coords[mask, 0], y=coords[mask, 1])
        if dims == 3:
            xyz["z"] = coords[mask, 2]
        fig.add_trace(scatter(**xyz, mode="markers", name=name, marker=marker, customdata=custom,
                              hovertemplate=hover + "<extra></extra>"))  # fmt: skip
    if placed is not None:
        xyz = dict(x=[placed[0]], y=[placed[1]])
        if dims == 3:
            xyz["z"] = [placed[2]]
        fig.add_trace(scatter(**xyz, mode="markers", name="your image", hoverinfo="name",
                              marker=dict(size=18 if dims == 2 else 9, color="gold", symbol="diamond",
                                          line=dict(color="black", width=2))))  # fmt: skip
    fig.update_layout(height=620, margin=dict(l=10, r=10, t=30, b=10), dragmode="lasso" if dims == 2 else "orbit",
                      legend=dict(itemsizing="constant"), uirevision="embedding",
                      meta=HOVER_IMAGES_META)  # fmt: skip  # opts in to hover images
    return fig


def variance_figure(ratios: Sequence[float]) -> go.Figure:
    ratios = list(ratios)
    fig = go.Figure(go.Bar(x=[f"PC{i + 1}" for i in range(len(ratios))], y=ratios,
                           hovertemplate="%{x}: %{y:.1%}<extra></extra>"))  # fmt: skip
    fig.add_trace(go.Scatter(x=[f"PC{i + 1}" for i in range(len(ratios))], y=np.cumsum(ratios),
                             mode="lines+markers", name="cumulative"))  # fmt: skip
    fig.update_yaxes(tickformat=".0%", title="variance explained")
    return apply_layout(fig, 260, showlegend=False)
