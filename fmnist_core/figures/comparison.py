"""Figures that compare models: learning curves, k-fold spread, per-class accuracy,
accuracy against size with public references."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.figures.style import PALETTE, apply_layout
from fmnist_core.results import REFERENCE_ACCURACIES, smooth


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
    return apply_layout(fig, 420)


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
    return apply_layout(fig, 340, showlegend=False)


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
    return apply_layout(fig, 360, barmode="group")


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
    return apply_layout(fig, 440)
