"""Calibration figures: the reliability diagram and the coverage curve."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from fmnist_core.analysis.calibration import Coverage, Reliability
from fmnist_core.figures.style import PALETTE, apply_layout


def reliability_figure(curves: dict[str, Reliability]) -> go.Figure:
    """Accuracy against confidence per bin, one line per model, the diagonal for perfect
    calibration; a point's size and hover give how many test images fell in its bin."""
    fig = go.Figure(go.Scatter(
        x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#999", dash="dot"),
        name="perfectly calibrated", hoverinfo="skip",
    ))  # fmt: skip
    for i, (name, r) in enumerate(curves.items()):
        filled = r.counts > 0
        size = 6 + 14 * np.sqrt(r.counts[filled] / max(1, r.counts.max()))
        fig.add_trace(go.Scatter(
            x=r.confidence[filled], y=r.accuracy[filled], mode="lines+markers",
            name=f"{name} (ECE {r.ece:.3f})", line=dict(color=PALETTE[i % len(PALETTE)], width=2),
            marker=dict(size=size), customdata=r.counts[filled],
            hovertemplate=f"{name}<br>sure %{{x:.1%}}, right %{{y:.1%}}"
            "<br>%{customdata:,} test images<extra></extra>",
        ))  # fmt: skip
    fig.update_xaxes(title="how sure the model said it was (top class)", range=[0, 1.02],
                     tickformat=".0%")  # fmt: skip
    fig.update_yaxes(title="how often it was right", range=[0, 1.02], tickformat=".0%")
    apply_layout(fig, height=420)
    fig.update_layout(legend=dict(orientation="v", x=0.02, xanchor="left", y=0.98, yanchor="top",
                                  bgcolor="rgba(255,255,255,0.7)"))  # fmt: skip
    return fig


def thinned(coverage: np.ndarray, points: int = 400) -> np.ndarray:
    """Indices of about `points` places spread evenly along a curve of up to one point per
    test image (10,000 points a model make the Compare page slow to draw), both ends kept."""
    if len(coverage) <= points:
        return np.arange(len(coverage))
    targets = np.linspace(coverage.min(), coverage.max(), points)
    order = np.argsort(coverage, kind="stable")
    picks = order[np.clip(np.searchsorted(coverage[order], targets), 0, len(order) - 1)]
    return np.unique(np.r_[picks, np.argmin(coverage), np.argmax(coverage)])


def coverage_figure(curves: dict[str, Coverage], target: float) -> go.Figure:
    """Accuracy on the answered images against the share answered, as the confidence
    threshold rises; the target accuracy as a line."""
    fig = go.Figure()
    for i, (name, c) in enumerate(curves.items()):
        keep = thinned(c.coverage)
        fig.add_trace(go.Scatter(
            x=c.coverage[keep], y=c.accuracy[keep], mode="lines", name=name,
            line=dict(color=PALETTE[i % len(PALETTE)], width=2), customdata=c.thresholds[keep],
            hovertemplate=f"{name}<br>answers %{{x:.1%}} of images, right on %{{y:.2%}}"
            "<br>when at least %{customdata:.1%} sure<extra></extra>",
        ))  # fmt: skip
    fig.add_hline(y=target, line=dict(color="#c33", dash="dash"),
                  annotation_text=f"{target:.0%} accuracy", annotation_position="bottom left")  # fmt: skip
    fig.update_xaxes(title="share of test images answered", tickformat=".0%", range=[0, 1.01])
    fig.update_yaxes(title="accuracy on the answered ones", tickformat=".0%")
    return apply_layout(fig, height=380)
