"""Quiz figures: one person against the models, and the class's scores."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from fmnist_core.figures.style import PALETTE, apply_layout


def you_against_models(score: float, models: dict[str, float], human: float) -> go.Figure:
    """Horizontal bars, best first: you, the human baseline, every model, on the same images."""
    rows = [("You", score, PALETTE[1]), ("People (Zalando's study)", human, "#999")]
    rows += [(name, s, PALETTE[0]) for name, s in models.items()]
    rows.sort(key=lambda r: r[1])
    fig = go.Figure(go.Bar(
        x=[r[1] for r in rows], y=[r[0] for r in rows], orientation="h",
        marker_color=[r[2] for r in rows], text=[f"{r[1]:.0%}" for r in rows],
        textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.0%}<extra></extra>",
    ))  # fmt: skip
    fig.update_xaxes(range=[0, 1.08], tickformat=".0%", title="right on these 20 images")
    return apply_layout(fig, height=80 + 26 * len(rows), showlegend=False)


def class_histogram(scores: np.ndarray, models: dict[str, float], human: float) -> go.Figure:
    """How many people got each score, with the human baseline and every model marked."""
    values = np.round(np.asarray(scores) * 20).astype(int)
    counts = np.bincount(values, minlength=21)
    fig = go.Figure(go.Bar(
        x=np.arange(21) / 20, y=counts, marker_color=PALETTE[1], name="people in this class",
        width=0.04, hovertemplate="%{y} people got %{x:.0%}<extra></extra>",
    ))  # fmt: skip
    top = max(1, int(counts.max()))
    fig.add_vline(x=human, line=dict(color="#555", dash="dash"))
    fig.add_annotation(x=human, y=top, text=f"people, Zalando: {human:.1%}", showarrow=False,
                       xanchor="right", yanchor="top", font=dict(size=11))  # fmt: skip
    # the models above the bars: one marker per score, each score on its own row so that
    # the names never overlap
    groups: dict[float, list[str]] = {}
    for name, sc in models.items():
        groups.setdefault(round(sc, 4), []).append(name)
    for row, (sc, names) in enumerate(sorted(groups.items())):
        fig.add_trace(go.Scatter(
            x=[sc], y=[top * (1.1 + 0.14 * row)], mode="markers+text",
            text=[f"{', '.join(names)} ({sc:.0%})"], textposition="middle left",
            marker=dict(symbol="triangle-down", size=11, color=PALETTE[0]),
            showlegend=False, hovertemplate=f"{', '.join(names)}: %{{x:.0%}}<extra></extra>",
        ))  # fmt: skip
    rows = len(groups)
    fig.update_xaxes(range=[-0.03, 1.12], tickformat=".0%", title="score (share right)")
    fig.update_yaxes(title="people", range=[0, top * (1.25 + 0.14 * rows)],
                     dtick=max(1, top // 5), tickformat="d")  # fmt: skip
    return apply_layout(fig, height=360, showlegend=False)
