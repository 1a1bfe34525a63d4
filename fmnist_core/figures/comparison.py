"""Figures that compare models: learning curves, k-fold spread, per-class accuracy,
accuracy against size and latency (the Pareto front) with public references."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from fmnist_core.analysis.results import REFERENCE_ACCURACIES, smooth
from fmnist_core.analysis.tradeoffs import pareto_front
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.figures.labels import spread_labels, text_box
from fmnist_core.figures.style import PALETTE, apply_layout


def learning_curves_figure(
    histories: dict[str, list[dict]], metric: str, smoothing: float = 0.0
) -> go.Figure:
    """Training (dashed) and validation (solid) curves per model; a marker on the best
    validation epoch (lowest val_loss); a dotted line where the augmentation phase starts."""
    fig = go.Figure()
    for i, (name, history) in enumerate(histories.items()):
        if not history:  # a model that trained nothing (the ensemble) has no curve
            continue
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


COST_AXES = {
    "params": ("parameters", "%{x:,} parameters"),
    "latency_ms": ("Predict latency, one image (ms, this server)", "%{x:.1f} ms per image"),
    "megabytes": ("file size (MB)", "%{x:.1f} MB"),
}


def accuracy_tradeoff_figure(models: list[dict], cost: str = "params") -> go.Figure:
    """Each model's test accuracy against a cost (parameters, latency or file size), with the
    Pareto front (no other model is both cheaper and more accurate) drawn as a step line and
    the public reference accuracies as dotted lines."""
    title, hover = COST_AXES[cost]
    models = [m for m in models if m.get(cost)]
    fig = go.Figure()
    front = [models[i] for i in pareto_front([m[cost] for m in models],
                                             [m["test_accuracy"] for m in models])]  # fmt: skip
    if len(front) > 1:
        xs, ys = [], []
        for a, b in zip(front, front[1:]):  # a step: flat until the next model is reached
            xs += [a[cost], b[cost]]
            ys += [a["test_accuracy"], a["test_accuracy"]]
        xs.append(front[-1][cost])
        ys.append(front[-1]["test_accuracy"])
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name="Pareto front", hoverinfo="skip",
            line=dict(color="rgba(120,120,120,0.6)", width=2, shape="hv"),
        ))  # fmt: skip
    on_front = {m["name"] for m in front}
    groups = (
        ("tutorial models", [m for m in models if not m.get("beyond_tutorials")], "circle", 0),
        ("beyond the tutorials", [m for m in models if m.get("beyond_tutorials")], "diamond", 2),
    )
    for label, group, symbol, colour in groups:
        if not group:
            continue
        fig.add_trace(go.Scatter(
            x=[m[cost] for m in group], y=[m["test_accuracy"] for m in group],
            text=[m["name"] for m in group], mode="markers",
            marker=dict(size=12, symbol=symbol, color=PALETTE[colour],
                        line=dict(width=[3 if m["name"] in on_front else 0 for m in group],
                                  color="black")),
            customdata=["on the Pareto front" if m["name"] in on_front else "" for m in group],
            name=label,
            hovertemplate=f"%{{text}}<br>{hover}<br>%{{y:.2%}}<br>%{{customdata}}<extra></extra>",
        ))  # fmt: skip
    if cost == "params":
        reported = [m for m in models if m.get("reported_accuracy")]
        fig.add_trace(go.Scatter(
            x=[m["params"] for m in reported], y=[m["reported_accuracy"] for m in reported],
            text=[m["name"] for m in reported], mode="markers", name="tutorial reported",
            marker=dict(size=9, symbol="x", color=PALETTE[1]),
            hovertemplate="%{text}: tutorial reported %{y:.2%}<extra></extra>",
        ))  # fmt: skip
    reported_at = [(m["params"], m["reported_accuracy"]) for m in models
                    if cost == "params" and m.get("reported_accuracy")]  # fmt: skip
    # each reference's label above its line on a white ground; neighbours alternate between
    # the left and the right, so labels of lines half a point apart do not cover each other
    references = []
    for k, (label, acc) in enumerate(sorted(REFERENCE_ACCURACIES.items(), key=lambda i: -i[1])):
        text, side = f"{label} {acc:.1%}", ("left", "right")[k % 2]
        references.append((text, acc, side))
        fig.add_hline(y=acc, line=dict(color="gray", dash="dot", width=1), annotation_text=text,
                      annotation_position=f"top {side}", annotation_font_size=10,
                      annotation_bgcolor="rgba(255,255,255,0.85)")  # fmt: skip
    x_range = _name_the_points(fig, models, cost, reported_at, references)
    fig.update_xaxes(title=title, type="log", range=x_range)
    fig.update_yaxes(title="test accuracy", tickformat=".0%", range=list(TRADEOFF_Y))
    return apply_layout(fig, 440)


TRADEOFF_Y = (0.8, 0.975)
TRADEOFF_PLOT_PX = (840, 340)  # the plot area on a laptop's Compare page, about


def _name_the_points(
    fig: go.Figure, models: list[dict], cost: str, others: list, references: list
) -> list[float]:
    """Each model's name beside its point where it covers no other name, point or reference
    label (figures/labels.py); returns the x axis' range (log10) the placement assumed."""
    if not models:
        return [0, 1]
    logs = [math.log10(m[cost]) for m in models] + [math.log10(x) for x, _ in others]
    pad = max(0.08 * (max(logs) - min(logs)), 0.08)
    lo, hi = min(logs) - pad, max(logs) + pad
    width, height = TRADEOFF_PLOT_PX

    def px(x: float, y: float) -> tuple[float, float]:
        y_lo, y_hi = TRADEOFF_Y
        return ((math.log10(x) - lo) / (hi - lo) * width, (y_hi - y) / (y_hi - y_lo) * height)

    points = [px(m[cost], m["test_accuracy"]) for m in models]
    names = [m["name"] for m in models]
    blocked = []
    for text, acc, side in references:  # at the edge, just above the line, 10 px type
        _, y = px(10**lo, acc)
        w = text_box(0, 0, text, 10)[2] * 2
        blocked.append(text_box(w / 2 if side == "left" else width - w / 2, y - 8, text, 10))
    placed = spread_labels(points, names, [px(x, y) for x, y in others], blocked)
    for m, place in zip(models, placed):
        fig.add_annotation(
            x=math.log10(m[cost]), y=m["test_accuracy"], text=m["name"], font=dict(size=12),
            ax=place.dx, ay=place.dy, xanchor="center", yanchor="middle", showarrow=True,
            arrowhead=0, arrowwidth=0.8, standoff=7,
            arrowcolor="rgba(90,90,90,0.6)" if place.leader else "rgba(0,0,0,0)",
        )  # fmt: skip
    return [lo, hi]
