"""Figures for the inside of a model: the strip of layers, clickable grids of feature maps
and filters, and small grids of numbers for the worked arithmetic.

Streamlit's selection events fire on scatter points, not on heatmaps or images: every
clickable figure here is drawn as square markers (or pictures under transparent markers).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go

from fmnist_core.figures.style import PALETTE
from fmnist_core.inside import LayerInfo

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


def _data_uri(picture: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(picture, np.uint8)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def picture_grid(
    pictures: list[np.ndarray],
    labels: list[str],
    cols: int,
    selected: int | None = None,
    cell_px: int = 72,
) -> go.Figure:
    """Small pictures in a grid; clicking one selects it (its position is the point's
    customdata[0]). `selected` gets a blue frame."""
    n = len(pictures)
    rows = -(-n // cols)
    xs = [i % cols for i in range(n)]
    ys = [i // cols for i in range(n)]
    fig = go.Figure(go.Scatter(
        x=xs, y=ys, mode="markers", customdata=[[i, labels[i]] for i in range(n)],
        marker=dict(symbol="square", size=cell_px * 0.92, color="rgba(0,0,0,0)",
                    line=dict(width=[4 if i == selected else 0 for i in range(n)],
                              color="#1f6feb")),
        hovertemplate="%{customdata[1]}<extra></extra>",
    ))  # fmt: skip
    for i, picture in enumerate(pictures):
        fig.add_layout_image(
            source=_data_uri(picture), x=xs[i], y=ys[i], xref="x", yref="y",
            sizex=0.9, sizey=0.9, xanchor="center", yanchor="middle", layer="below",
            sizing="stretch",
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
) -> go.Figure:
    """A 2-D array as square, clickable cells (point x = column, y = row); `numbers` writes
    each value in its cell (for the small grids of the worked arithmetic)."""
    values = np.asarray(values, np.float32)
    h, w = values.shape
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    flat = values.ravel()
    if diverging:
        limit = float(np.abs(flat).max()) or 1.0
        colours = dict(colorscale="RdBu", cmin=-limit, cmax=limit, reversescale=True)
    else:
        colours = dict(colorscale=colorscale, cmin=float(flat.min()),
                       cmax=float(flat.max()) if flat.max() > flat.min() else float(flat.min()) + 1)  # fmt: skip
    line_w = np.zeros(flat.size)
    if selected is not None:
        line_w[selected[0] * w + selected[1]] = 3
    span = colours["cmax"] - colours["cmin"]
    mid = (colours["cmax"] + colours["cmin"]) / 2
    dark = (flat - mid) / span < 0.1 if not diverging else np.abs(flat) > 0.55 * colours["cmax"]
    fig = go.Figure(go.Scatter(
        x=cols.ravel(), y=rows.ravel(), mode="markers+text" if numbers else "markers",
        text=[format(v, fmt) for v in flat] if numbers else None,
        textfont=dict(size=11, color=["white" if d else "#222" for d in dark]),
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
