"""Figures of the models' answers for one image: every class's probability per model."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from fmnist_core.classes import CLASS_NAMES


def probabilities_figure(probabilities: dict[str, Sequence[float]]) -> go.Figure:
    """All ten class probabilities, one group per class, one bar per model."""
    fig = go.Figure(
        [
            go.Bar(
                name=name,
                x=list(CLASS_NAMES),
                y=[float(p) for p in probs],
                hovertemplate=f"{name}<br>%{{x}}: %{{y:.1%}}<extra></extra>",
            )
            for name, probs in probabilities.items()
        ]
    )
    fig.update_layout(
        barmode="group",
        height=340,
        margin=dict(l=10, r=10, t=30, b=10),
        yaxis=dict(title="probability", tickformat=".0%", range=[0, 1]),
        legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
    )
    return fig
