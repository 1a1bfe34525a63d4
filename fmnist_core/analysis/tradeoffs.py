"""What each point of accuracy costs: parameters, file size and Predict latency per model, and
the Pareto front (the models no other model beats on both accuracy and cost)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fmnist_core.analysis.predict import call_seconds
from fmnist_core.contracts import model_size

# One image, as the Predict page sends it; timed after this many warm-up calls.
LATENCY_WARMUP, LATENCY_REPEATS = 3, 25


@dataclass(frozen=True)
class Cost:
    name: str
    test_accuracy: float
    params: int
    megabytes: float  # the .keras file
    latency_ms: float | None = None  # median of one-image predictions, this machine


def pareto_front(costs: Sequence[float], accuracies: Sequence[float]) -> list[int]:
    """Indices of the points no other point dominates (cost no higher and accuracy no lower,
    one of them strictly), by rising cost."""
    order = sorted(range(len(costs)), key=lambda i: (costs[i], -accuracies[i]))
    front, best = [], -np.inf
    for i in order:
        if accuracies[i] > best:
            front.append(i)
            best = accuracies[i]
    return front


def predict_latency_ms(model, repeats: int = LATENCY_REPEATS) -> float:
    """Median milliseconds of one-image `predict_on_batch` calls (the Predictor's path)."""
    x = np.full((1, 28, 28, 1), 128.0, np.float32)
    call_seconds(model, x, LATENCY_WARMUP)
    return float(np.median(call_seconds(model, x, repeats)) * 1000)


def model_costs(artifacts, models: dict | None = None, *, latency: bool = True) -> list[Cost]:
    """Each artifact's accuracy and costs; `models`: already loaded models by name (the
    Predictor's), loaded here otherwise."""
    out = []
    for art in artifacts:
        m = art.manifest
        size = model_size(m)
        if size is None and (art.path / "model.keras").exists():
            size = (art.path / "model.keras").stat().st_size
        ms = None
        if latency:
            model = (models or {}).get(art.name) or art.load_model()
            ms = predict_latency_ms(model)
        out.append(Cost(art.name, float(m["test_accuracy"]), int(m.get("params") or 0),
                        (size or 0) / 1e6, ms))  # fmt: skip
    return out
