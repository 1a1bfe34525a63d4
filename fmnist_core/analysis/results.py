"""Where models win and fail, computed from stored test-set probabilities (nothing retrained)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from fmnist_core.analysis.calibration import Coverage, Reliability, coverage_curve, reliability
from fmnist_core.analysis.evaluate import confusion_matrix, per_class_scores
from fmnist_core.analysis.significance import Interval, bootstrap_accuracy, bootstrap_recall
from fmnist_core.classes import CLASS_NAMES, NUM_CLASSES
from fmnist_core.contracts import Calibration, Manifest
from fmnist_core.versions import Artifact

# Public reference points (Zalando's README and benchmark, published papers), test accuracy.
REFERENCE_ACCURACIES = {
    "Human (Zalando)": 0.835,
    "ResNet18 + augmentation": 0.949,
    "DenseNet-BC": 0.954,
    "WRN-28-10 + random erasing": 0.963,
    "Best published (fine-tuned DARTS)": 0.969,
}


@dataclass
class ModelResults:
    """One model's stored test-set predictions, with the true labels."""

    name: str
    probs: np.ndarray  # (10000, 10) float32
    y_true: np.ndarray  # (10000,)
    manifest: Manifest

    @classmethod
    def from_artifact(cls, art: Artifact, y_true: np.ndarray) -> ModelResults:
        probs = art.test_probabilities()
        if probs.shape != (len(y_true), NUM_CLASSES):
            raise ValueError(f"{art.name}: stored probabilities have shape {probs.shape}")
        return cls(art.name, probs, np.asarray(y_true), art.manifest)

    # Derived arrays are computed once per loaded model (the pages index them per image) and
    # read-only, because every session shares them.
    @cached_property
    def y_pred(self) -> np.ndarray:
        return _frozen(self.probs.argmax(axis=1))

    @cached_property
    def confidence(self) -> np.ndarray:
        """The probability of the predicted class."""
        return _frozen(self.probs.max(axis=1))

    @cached_property
    def correct(self) -> np.ndarray:
        return _frozen(self.y_pred == self.y_true)

    def confusion(self) -> np.ndarray:
        return self._confusion

    @cached_property
    def _confusion(self) -> np.ndarray:
        return _frozen(confusion_matrix(self.y_true, self.y_pred))

    def scores(self) -> dict[str, dict[str, float]]:
        return per_class_scores(self.confusion())

    @cached_property
    def accuracy_interval(self) -> Interval:
        """Test accuracy with its 95% bootstrap interval."""
        return bootstrap_accuracy(self.correct)

    @cached_property
    def recall_intervals(self) -> list[Interval]:
        """Each class's recall with its 95% bootstrap interval."""
        return bootstrap_recall(self.y_true, self.y_pred)

    @cached_property
    def reliability(self) -> Reliability:
        return reliability(self.probs, self.y_true)

    @cached_property
    def coverage(self) -> Coverage:
        return coverage_curve(self.probs, self.y_true)

    @property
    def calibration(self) -> Calibration | dict[str, Any]:
        """The manifest's temperature entry ({} when the manifest has none)."""
        return self.manifest.get("calibration") or {}

    def cell(self, true: int, predicted: int) -> np.ndarray:
        """Test indices with this true and predicted class, most confident first."""
        idx = np.flatnonzero((self.y_true == true) & (self.y_pred == predicted))
        return idx[np.argsort(-self.confidence[idx], kind="stable")]


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def row_normalised(cm: np.ndarray) -> np.ndarray:
    """Each row as fractions of the true class (recall on the diagonal)."""
    totals = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, totals, out=np.zeros(cm.shape, dtype=float), where=totals > 0)


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    return np.diag(row_normalised(cm))


@dataclass
class Confusion:
    true: int
    predicted: int
    count: int
    rate: float  # of the true class

    def sentence(self) -> str:
        return (
            f"{self.rate:.0%} of {plural(CLASS_NAMES[self.true])} are predicted "
            f"{CLASS_NAMES[self.predicted]} ({self.count} of {round(self.count / self.rate)})"
        )


PLURALS = {"T-shirt/top": "T-shirts/tops", "Dress": "Dresses"}


def plural(name: str) -> str:
    return PLURALS.get(name, name + "s")


def top_confusions(cm: np.ndarray, k: int = 5) -> list[Confusion]:
    """The k largest off-diagonal cells, by share of the true class."""
    rates = row_normalised(cm)
    cells = [
        Confusion(t, p, int(cm[t, p]), float(rates[t, p]))
        for t in range(NUM_CLASSES)
        for p in range(NUM_CLASSES)
        if t != p and cm[t, p] > 0
    ]
    return sorted(cells, key=lambda c: (-c.rate, -c.count))[:k]


def right_wrong(a: ModelResults, b: ModelResults) -> tuple[np.ndarray, np.ndarray]:
    """(indices a gets right and b wrong, indices b gets right and a wrong), most confident first."""
    a_only = np.flatnonzero(a.correct & ~b.correct)
    b_only = np.flatnonzero(b.correct & ~a.correct)
    return (
        a_only[np.argsort(-a.confidence[a_only], kind="stable")],
        b_only[np.argsort(-b.confidence[b_only], kind="stable")],
    )


def matrix_csv(cm: np.ndarray) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["true \\ predicted", *CLASS_NAMES])
    for t, row in enumerate(cm):
        w.writerow([CLASS_NAMES[t], *[f"{v:g}" if isinstance(v, float) else int(v) for v in row]])
    return out.getvalue()


def misclassified_csv(r: ModelResults) -> str:
    """Every wrong prediction: index, true and predicted class, confidence, p(true class)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["index", "true_label", "true_class", "predicted_label", "predicted_class",
                "confidence", "p_true"])  # fmt: skip
    wrong = np.flatnonzero(~r.correct)
    wrong = wrong[np.argsort(-r.confidence[wrong], kind="stable")]
    for i in wrong:
        t, p = int(r.y_true[i]), int(r.y_pred[i])
        w.writerow([int(i), t, CLASS_NAMES[t], p, CLASS_NAMES[p],
                    f"{r.confidence[i]:.4f}", f"{r.probs[i, t]:.4f}"])  # fmt: skip
    return out.getvalue()


def smooth(values: list[float], weight: float) -> list[float]:
    """TensorBoard-style exponential moving average (weight 0 = unchanged)."""
    if not weight:
        return list(values)
    out, last = [], None
    for v in values:
        last = v if last is None else weight * last + (1 - weight) * v
        out.append(last)
    return out
