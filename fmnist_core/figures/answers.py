"""Figures of the models' answers for one image: every class's probability per model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import plotly.graph_objects as go

from fmnist_core.classes import CLASS_NAMES


class KeptFigure(go.Figure):
    """A figure that is shown again and again unchanged (a kept answer's, on every rerun of the
    Predict page): its dict is made once. st.plotly_chart calls `to_dict()` on every run, a deep
    copy of data and layout that weighs on a busy server. Change nothing in it after its first `to_dict()`."""

    def to_dict(self):
        kept = self.__dict__.get("_kept_dict")
        if kept is None:
            kept = self.__dict__["_kept_dict"] = super().to_dict()
        return kept


def probabilities_figure(probabilities: Mapping[str, Iterable[float]]) -> go.Figure:
    """All ten class probabilities, one group per class, one bar per model.

    Built from plain dicts in one constructor call, unvalidated (the dicts are fixed here, and
    tests render them): many times faster than go.Bar objects and update_layout, and it is
    built on every answer the Predict page gives."""
    return KeptFigure(
        data=[
            dict(
                type="bar",
                name=name,
                x=list(CLASS_NAMES),
                y=[float(p) for p in probs],
                hovertemplate=f"{name}<br>%{{x}}: %{{y:.1%}}<extra></extra>",
            )
            for name, probs in probabilities.items()
        ],
        layout=dict(
            barmode="group",
            height=340,
            margin=dict(l=10, r=10, t=30, b=10),
            yaxis=dict(title=dict(text="probability"), tickformat=".0%", range=[0, 1]),
            legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
        ),
        _validate=False,
    )
