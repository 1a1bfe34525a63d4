"""Figures for the inside of a model: the strip of layers, clickable grids of feature maps
and filters, and small grids of numbers for the worked arithmetic.

Streamlit's selection events fire on scatter points, not on heatmaps or images: every
clickable figure here is drawn as square markers (or pictures under transparent markers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from fmnist_core.data.gallery import png_data_uri
from fmnist_core.explain.inspector import LayerInfo
from fmnist_core.figures.style import PALETTE

KIND_COLOURS = {"conv": PALETTE[0], "pool": PALETTE[1], "other": "#9aa4b2"}
KIND_NAMES = {"conv": "convolution", "pool": "pooling", "other": "other layer"}


def layer_strip(info: list[LayerInfo]) -> go.Figure:
    """Every layer as a bar whose height is how many numbers it outputs (log scale), its
    output shape written on it, its type and parameters on hover."""
    fig = go.Figure()
    for kind in ("conv", "pool", "other"):
        rows = [i for i in info if i.kind == kind]
        if not rows:
            continue
        fig.add_bar(
            x=[i.name for i in rows],
            y=[int(np.prod(i.output_shape)) for i in rows],
            name=KIND_NAMES[kind],
            marker_color=KIND_COLOURS[kind],
            text=["x".join(map(str, i.output_shape)) for i in rows],
            textposition="outside",
            textangle=-90,
            cliponaxis=False,
            customdata=[[i.type, f"{i.params:,}"] for i in rows],
            hovertemplate="%{x} (%{customdata[0]})<br>output %{text}: %{y:,} numbers"
            "<br>%{customdata[1]} parameters<extra></extra>",
        )
    fig.update_xaxes(
        categoryorder="array", categoryarray=[i.name for i in info], tickangle=-45, fixedrange=True
    )
    fig.update_yaxes(type="log", dtick=1, title="numbers out", fixedrange=True)
    fig.update_layout(
        height=360, margin=dict(l=10, r=10, t=60, b=10), bargap=0.25,
        legend=dict(orientation="h", x=1, xanchor="right", y=1.08, yanchor="bottom"),
        uniformtext=dict(minsize=9, mode="show"), font=dict(size=11),
    )  # fmt: skip
    return fig


def picture_grid(
    pictures: list[np.ndarray],
    labels: list[str],
    cols: int,
    selected: int | None = None,
    cell_px: int = 72,
) -> go.Figure:
    """Small pictures in a grid; clicking one selects it (its position is the point's
    customdata[0]). `selected` gets a blue frame. The pictures travel as one PNG under
    transparent markers (a layout image each is slow to build when there are dozens)."""
    n = len(pictures)
    rows = -(-n // cols)
    h, w = np.asarray(pictures[0]).shape[:2]
    pad = max(1, round(0.05 * max(h, w)))
    sheet = np.full((rows * (h + 2 * pad), cols * (w + 2 * pad), *np.shape(pictures[0])[2:]),
                    255, np.uint8)  # fmt: skip
    for i, picture in enumerate(pictures):
        r, c = divmod(i, cols)
        y, x = r * (h + 2 * pad) + pad, c * (w + 2 * pad) + pad
        sheet[y : y + h, x : x + w] = picture
    index = np.arange(n)
    fig = go.Figure(go.Scatter(
        x=index % cols, y=index // cols, mode="markers",
        customdata=[[i, labels[i]] for i in range(n)],
        marker=dict(symbol="square", size=cell_px * 0.92, color="rgba(0,0,0,0)",
                    line=dict(width=np.where(index == selected, 4, 0), color="#1f6feb")),
        hovertemplate="%{customdata[1]}<extra></extra>",
    ))  # fmt: skip
    fig.add_layout_image(
        source=png_data_uri(sheet), x=-0.5, y=-0.5, xref="x", yref="y", sizex=cols, sizey=rows,
        xanchor="left", yanchor="top", layer="below", sizing="stretch",
    )  # fmt: skip
    fig.update_xaxes(range=[-0.5, cols - 0.5], visible=False, fixedrange=True)
    fig.update_yaxes(range=[rows - 0.5, -0.5], visible=False, fixedrange=True)
    fig.update_layout(
        width=cols * cell_px + 20, height=rows * cell_px + 20, margin=dict(l=10, r=10, t=10, b=10),
        clickmode="event+select", dragmode=False, plot_bgcolor="white", showlegend=False,
    )  # fmt: skip
    return fig


def value_grid(
    values: np.ndarray,
    selected: tuple[int, int] | None = None,
    colorscale: str = "gray",
    diverging: bool = False,
    numbers: bool = False,
    cell_px: int = 18,
    title: str = "",
    fmt: str = ".2f",
    limits: tuple[float, float] | None = None,
) -> go.Figure:
    """A 2-D array as square, clickable cells (point x = column, y = row); `numbers` writes
    each value in its cell (for the small grids of the worked arithmetic); `limits`: the
    values at the two ends of the colour scale (default the array's own)."""
    values = np.asarray(values, np.float32)
    h, w = values.shape
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    flat = values.ravel()
    colours: dict[str, Any]
    if diverging:
        limit = float(np.abs(flat).max()) or 1.0
        colours = dict(colorscale="RdBu", cmin=-limit, cmax=limit, reversescale=True)
    else:
        low, high = limits or (float(flat.min()), float(flat.max()))
        colours = dict(colorscale=colorscale, cmin=low, cmax=high if high > low else low + 1)
    line_w = np.zeros(flat.size)
    if selected is not None:
        line_w[selected[0] * w + selected[1]] = 3
    text = {}
    if numbers:  # dark cells get white numbers
        span = colours["cmax"] - colours["cmin"]
        mid = (colours["cmax"] + colours["cmin"]) / 2
        dark = (flat - mid) / span < 0.1 if not diverging else np.abs(flat) > 0.55 * colours["cmax"]
        text = dict(text=[format(v, fmt) for v in flat],
                    textfont=dict(size=11, color=["white" if d else "#222" for d in dark]))  # fmt: skip
    fig = go.Figure(go.Scatter(
        x=cols.ravel(), y=rows.ravel(), mode="markers+text" if numbers else "markers", **text,
        marker=dict(symbol="square", size=cell_px * (0.94 if numbers else 1.0), color=flat,
                    showscale=False,
                    line=dict(width=line_w, color="#1f6feb"), **colours),
        hovertemplate="row %{y}, column %{x}: %{marker.color:.3f}<extra></extra>",
    ))  # fmt: skip
    fig.update_xaxes(range=[-0.5, w - 0.5], visible=False, fixedrange=True)
    fig.update_yaxes(range=[h - 0.5, -0.5], visible=False, fixedrange=True)
    top = 28 if title else 6
    fig.update_layout(
        width=w * cell_px + 12, height=h * cell_px + top + 6,
        margin=dict(l=6, r=6, t=top, b=6), clickmode="event+select", dragmode=False,
        plot_bgcolor="white", showlegend=False,
        title=dict(text=title, x=0, font=dict(size=12)),
    )  # fmt: skip
    return fig
