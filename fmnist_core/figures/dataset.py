"""Figures about the dataset itself: the class balance of the two splits."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from fmnist_core.classes import CLASS_NAMES


def class_balance_figure(train_counts: Sequence[int], test_counts: Sequence[int]) -> go.Figure:
    """Grouped bars: images per class in the training and test sets."""
    fig = go.Figure(
        [
            go.Bar(name="training", x=list(CLASS_NAMES), y=list(map(int, train_counts))),
            go.Bar(name="test", x=list(CLASS_NAMES), y=list(map(int, test_counts))),
        ]
    )
    fig.update_layout(
        barmode="group",
        height=320,
        margin=dict(l=10, r=10, t=30, b=10),
        yaxis_title="images",
        legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
        title=dict(text="Images per class", x=0, font=dict(size=14)),
    )
    return fig
