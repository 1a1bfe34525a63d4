"""Plotly figures for comparing models and reading confusion matrices: pure functions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from fmnist_core.classes import CLASS_NAMES, NUM_CLASSES
from fmnist_core.results import REFERENCE_ACCURACIES, smooth

PALETTE = qualitative.D3 + qualitative.Plotly
SHORT = [n.split("/")[0] if n != "Ankle boot" else "Boot" for n in CLASS_NAMES]


# A figure whose layout.meta is this shows each point's image on hover (ui_hover_images.py)
HOVER_IMAGES_META = "fmnist-hover-images"


def _layout(fig: go.Figure, height: int = 360, **kw) -> go.Figure:
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
        **kw,
    )
    return fig


def learning_curves_figure(
    histories: dict[str, list[dict]], metric: str, smoothing: float = 0.0
) -> go.Figure:
    """Training (dashed) and validation (solid) curves per model; a marker on the best
    validation epoch (lowest val_loss); a dotted line where the augmentation phase starts."""
    fig = go.Figure()
    for i, (name, history) in enumerate(histories.items()):
        color = PALETTE[i % len(PALETTE)]
        epochs = [h["epoch"] for h in history]
        for key, dash, label in (
            (metric, "dash", "training"),
            (f"val_{metric}", "solid", "validation"),
        ):
            if key not in history[0]:
                continue
            fig.add_trace(go.Scatter(
                x=epochs, y=smooth([h[key] for h in history], smoothing), mode="lines",
                line=dict(color=color, dash=dash, width=2), name=f"{name} {label}",
                legendgroup=name, hovertemplate=f"{name} {label}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>",
            ))  # fmt: skip
        if "val_loss" in history[0]:
            best = min(history, key=lambda h: h["val_loss"])
            y = smooth([h[f"val_{metric}"] for h in history], smoothing)[history.index(best)]
            fig.add_trace(go.Scatter(
                x=[best["epoch"]], y=[y], mode="markers", legendgroup=name, showlegend=False,
                marker=dict(color=color, size=11, symbol="star", line=dict(color="white", width=1)),
                hovertemplate=f"{name}: best validation epoch %{{x}}<extra></extra>",
            ))  # fmt: skip
        augment = next((h["epoch"] for h in history if h.get("phase") == "augment"), None)
        if augment is not None:
            fig.add_vline(x=augment - 0.5, line=dict(color=color, dash="dot", width=1),
                          annotation_text=f"{name}: augmentation", annotation_position="top left",
                          annotation_font_size=10)  # fmt: skip
    last = max((h["epoch"] for hist in histories.values() for h in hist), default=1)
    fig.update_xaxes(title="epoch", tick0=1, dtick=max(1, -(-last // 12)))  # whole epochs only
    fig.update_yaxes(title=metric, tickformat=".0%" if metric == "accuracy" else None)
    return _layout(fig, 420)


def kfold_figure(folds: dict[str, list[float]]) -> go.Figure:
    """A box of fold accuracies per model, with every fold shown and mean / std in the label."""
    fig = go.Figure()
    for i, (name, accs) in enumerate(folds.items()):
        a = np.array(accs)
        fig.add_trace(go.Box(
            y=a, name=f"{name}<br>mean {a.mean():.2%} ± {a.std():.2%}", boxpoints="all",
            jitter=0.3, marker_color=PALETTE[i % len(PALETTE)], boxmean="sd",
            hovertemplate="%{y:.2%}<extra></extra>",
        ))  # fmt: skip
    fig.update_yaxes(title="fold validation accuracy", tickformat=".1%")
    return _layout(fig, 340, showlegend=False)


def per_class_accuracy_figure(accuracy: dict[str, Sequence[float]]) -> go.Figure:
    fig = go.Figure([
        go.Bar(name=name, x=list(CLASS_NAMES), y=list(acc), marker_color=PALETTE[i % len(PALETTE)],
               hovertemplate=f"{name}<br>%{{x}}: %{{y:.1%}}<extra></extra>")
        for i, (name, acc) in enumerate(accuracy.items())
    ])  # fmt: skip
    lowest = min((min(acc) for acc in accuracy.values()), default=0.5)
    fig.update_yaxes(
        title="accuracy (recall)", tickformat=".0%", range=[min(0.5, lowest - 0.05), 1]
    )
    return _layout(fig, 360, barmode="group")


def accuracy_vs_params_figure(models: list[dict]) -> go.Figure:
    """Each model's test accuracy against its parameter count, with reference accuracies."""
    fig = go.Figure()
    groups = (
        ("tutorial models", [m for m in models if not m.get("beyond_tutorials")], "circle", 0),
        ("beyond the tutorials", [m for m in models if m.get("beyond_tutorials")], "diamond", 2),
    )
    # neighbours in size take turns above and below their marker, so names do not overlap
    by_size = sorted(models, key=lambda m: m["params"] or 0)
    position = {m["name"]: ("top center", "bottom center")[i % 2] for i, m in enumerate(by_size)}
    for label, group, symbol, colour in groups:
        if not group:
            continue
        fig.add_trace(go.Scatter(
            x=[m["params"] for m in group], y=[m["test_accuracy"] for m in group],
            text=[m["name"] for m in group], mode="markers+text",
            textposition=[position[m["name"]] for m in group],
            marker=dict(size=12, symbol=symbol, color=PALETTE[colour]), name=label,
            hovertemplate="%{text}<br>%{x:,} parameters<br>%{y:.2%}<extra></extra>",
        ))  # fmt: skip
    reported = [m for m in models if m.get("reported_accuracy")]
    fig.add_trace(go.Scatter(
        x=[m["params"] for m in reported], y=[m["reported_accuracy"] for m in reported],
        text=[m["name"] for m in reported], mode="markers", name="tutorial reported",
        marker=dict(size=9, symbol="x", color=PALETTE[1]),
        hovertemplate="%{text}: tutorial reported %{y:.2%}<extra></extra>",
    ))  # fmt: skip
    for label, acc in REFERENCE_ACCURACIES.items():
        # the label sits above its line on a white ground, at the left where no model is
        fig.add_hline(y=acc, line=dict(color="gray", dash="dot", width=1), annotation_text=f"{label} {acc:.1%}",
                      annotation_position="top left", annotation_font_size=10,
                      annotation_bgcolor="rgba(255,255,255,0.85)")  # fmt: skip
    fig.update_xaxes(title="parameters", type="log")
    fig.update_yaxes(title="test accuracy", tickformat=".0%", range=[0.8, 0.975])
    return _layout(fig, 440)


def confusion_figure(
    cm: np.ndarray,
    normalised: bool,
    selected: tuple[int, int] | None = None,
    title: str = "",
    diverging: bool = False,
) -> go.Figure:
    """The matrix drawn as square markers, one per cell, so that clicking a cell selects it
    (Streamlit's selection events do not fire on heatmaps). Rows: true class; columns: predicted."""
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
    size = 560  # fixed square figure: the cells stay square and the markers fill them
    cell_px = (size - 150) / NUM_CLASSES
    fig = go.Figure(go.Scatter(
        x=p_idx, y=t_idx, mode="markers+text", text=text, textfont=dict(size=12, color=text_colors),
        customdata=[[CLASS_NAMES[t], CLASS_NAMES[p]] for t, p in zip(t_idx, p_idx)],
        marker=dict(symbol="square", size=cell_px * 0.93, color=marker_colors, showscale=False,
                    line=dict(color=line_colors, width=line_widths), **colors),
        hovertemplate="true %{customdata[0]}, predicted %{customdata[1]}: %{text}<extra></extra>",
    ))  # fmt: skip
    ticks = dict(tickmode="array", tickvals=list(range(NUM_CLASSES)), ticktext=SHORT)
    fig.update_xaxes(title="predicted class", range=[-0.5, NUM_CLASSES - 0.5], side="top",
                     showgrid=False, zeroline=False, fixedrange=True, **ticks)  # fmt: skip
    fig.update_yaxes(title="true class", range=[NUM_CLASSES - 0.5, -0.5], showgrid=False,
                     zeroline=False, fixedrange=True, **ticks)  # fmt: skip
    fig.update_layout(
        width=size, height=size, margin=dict(l=90, r=10, t=110 if title else 90, b=10),
        clickmode="event+select", dragmode=False, plot_bgcolor="white",
        title=dict(text=title, x=0, font=dict(size=14)),
    )  # fmt: skip
    return fig


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
            + ([pred_names[r], float(confidence[r])] if pred_names is not None else [])
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
    return _layout(fig, 260, showlegend=False)
