"""The confusion matrix as a clickable figure, and the difference of two models'."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from fmnist_core.classes import CLASS_NAMES, NUM_CLASSES
from fmnist_core.figures.style import SHORT


def confusion_figure(
    cm: np.ndarray,
    normalised: bool,
    selected: tuple[int, int] | None = None,
    title: str = "",
    diverging: bool = False,
    size: int = 560,
) -> go.Figure:
    """The matrix drawn as square markers, one per cell, so that clicking a cell selects it
    (Streamlit's selection events do not fire on heatmaps). Rows: true class; columns: predicted.
    `size`: the square figure's side in pixels, at most (a narrower column shrinks it)."""
    t_idx: np.ndarray
    p_idx: np.ndarray
    t_idx, p_idx = np.meshgrid(np.arange(NUM_CLASSES), np.arange(NUM_CLASSES), indexing="ij")
    t_idx, p_idx, values = t_idx.ravel(), p_idx.ravel(), np.asarray(cm, dtype=float).ravel()
    if diverging:
        limit = max(1.0, float(np.abs(values).max()))
        colors = dict(colorscale="RdBu", cmin=-limit, cmax=limit)
        text = [f"{v:+.0f}" if v else "" for v in values]
    else:
        shown = np.where(t_idx == p_idx, np.nan, values)  # colour the mistakes, not the diagonal
        top = np.nanmax(shown) if np.isfinite(shown).any() and np.nanmax(shown) > 0 else 1.0
        colors = dict(colorscale="Reds", cmin=0, cmax=top)
        text = [(f"{v:.0%}" if normalised else f"{v:.0f}") if v else "" for v in values]
    marker_colors = values.copy()
    if not diverging:
        marker_colors = np.where(t_idx == p_idx, 0, values)
    line_colors = ["#2a7" if t == p else "rgba(0,0,0,0.12)" for t, p in zip(t_idx, p_idx)]
    line_widths = [2 if t == p else 1 for t, p in zip(t_idx, p_idx)]
    if selected is not None:
        k = selected[0] * NUM_CLASSES + selected[1]
        line_colors[k], line_widths[k] = "#1f6feb", 5
    # dark cells get white numbers
    strength = np.abs(marker_colors) / (colors["cmax"] if colors["cmax"] else 1.0)
    text_colors = ["white" if v > 0.55 else "#333" for v in strength]
    left, right, top_m, bottom = 90, 10, (110 if title else 90), 10
    cell_px = min(size - left - right, size - top_m - bottom) / NUM_CLASSES
    # Each cell is a rectangle in the axes' units, so it stays inside its square at any
    # width the page gives the figure (markers are sized in pixels: in a narrower column they
    # covered their neighbours' outlines, and the diagonal looked shifted by half a cell).
    low, high = float(colors["cmin"]), float(colors["cmax"])  # type: ignore[arg-type]
    span = high - low
    fills = sample_colorscale(colors["colorscale"],
                              np.clip((marker_colors - low) / span, 0, 1).tolist())  # fmt: skip
    order = sorted(range(len(values)), key=lambda k: line_widths[k])  # outlines drawn last win
    shapes = [
        dict(type="rect", layer="below", x0=p_idx[k] - 0.465, x1=p_idx[k] + 0.465,
             y0=t_idx[k] - 0.465, y1=t_idx[k] + 0.465, fillcolor=fills[k],
             line=dict(color=line_colors[k], width=line_widths[k]))
        for k in order
    ]  # fmt: skip
    # the points on top: the numbers, the hover and the click (markers invisible, as large
    # as a cell at the figure's own size)
    fig = go.Figure(go.Scatter(
        x=p_idx, y=t_idx, mode="markers+text", text=text, textfont=dict(size=12, color=text_colors),
        customdata=[[CLASS_NAMES[t], CLASS_NAMES[p]] for t, p in zip(t_idx, p_idx)],
        marker=dict(symbol="square", size=cell_px * 0.93, color="rgba(0,0,0,0)"),
        hovertemplate="true %{customdata[0]}, predicted %{customdata[1]}: %{text}<extra></extra>",
        # a clicked cell is marked by its outline: plotly's default fades every other cell
        selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=1)),
    ))  # fmt: skip
    fig.update_layout(shapes=shapes)
    ticks = dict(tickmode="array", tickvals=list(range(NUM_CLASSES)), ticktext=SHORT)
    fig.update_xaxes(title="predicted class", range=[-0.5, NUM_CLASSES - 0.5], side="top",
                     showgrid=False, zeroline=False, fixedrange=True, **ticks)  # fmt: skip
    fig.update_yaxes(title="true class", range=[NUM_CLASSES - 0.5, -0.5], showgrid=False,
                     zeroline=False, fixedrange=True, **ticks)  # fmt: skip
    fig.update_layout(
        width=size, height=size, margin=dict(l=left, r=right, t=top_m, b=bottom),
        clickmode="event+select", dragmode=False, plot_bgcolor="white",
        title=dict(text=title, x=0, font=dict(size=14)),
    )  # fmt: skip
    return fig
