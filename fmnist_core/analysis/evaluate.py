"""Test-set evaluation from predicted probabilities: accuracy, loss, per-class scores, confusion."""

from __future__ import annotations

from typing import Any

import numpy as np

from fmnist_core.classes import CLASS_NAMES, NUM_CLASSES
from fmnist_core.contracts import Scores


def predict_probabilities(model: Any, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities for many images (N, 28, 28) or (N, 28, 28, 1), pixels 0-255."""
    x = np.asarray(x, dtype=np.float32).reshape(-1, 28, 28, 1)
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Counts[true, predicted], 10x10."""
    return np.bincount(
        y_true.astype(np.int64) * NUM_CLASSES + y_pred, minlength=NUM_CLASSES**2
    ).reshape(NUM_CLASSES, NUM_CLASSES)


def per_class_scores(cm: np.ndarray) -> dict[str, dict[str, float]]:
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(actual[i]),
        }
        for i, name in enumerate(CLASS_NAMES)
    }


def evaluate_probabilities(probs: np.ndarray, y_true: np.ndarray) -> Scores:
    """test_accuracy, test_loss (mean cross-entropy), per_class, confusion_matrix."""
    probs = np.asarray(probs, dtype=np.float64)
    y_true = np.asarray(y_true).astype(np.int64)
    y_pred = probs.argmax(axis=1)
    p_true = np.clip(probs[np.arange(len(y_true)), y_true], 1e-7, 1.0)
    cm = confusion_matrix(y_true, y_pred)
    return {
        "test_accuracy": float((y_pred == y_true).mean()),
        "test_loss": float(-np.log(p_true).mean()),
        "per_class": per_class_scores(cm),
        "confusion_matrix": cm.tolist(),
    }
