"""Can "92% sure" be believed? Expected calibration error, the reliability diagram's bins,
temperature scaling, and how much of the test set a model can answer at a chosen accuracy.

Temperature scaling divides the logits by one number T fitted on held-out images (T > 1
softens over-confident answers). The models keep only probabilities; log-probabilities are
the logits less a constant per image, so scaling them gives the same probabilities. The
arg-max, and so every prediction, is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fmnist_core.analysis.evaluate import predict_probabilities
from fmnist_core.contracts import Calibration, Manifest, recipe_split_seed
from fmnist_core.data.fashion_mnist import stratified_split, stratified_subset

BINS = 15
_FLOOR = 1e-30  # probabilities that underflowed to 0 in float32


@dataclass(frozen=True)
class Reliability:
    """The reliability diagram's bins: equal-width confidence bins of the top class."""

    edges: np.ndarray  # (BINS + 1,)
    counts: np.ndarray  # (BINS,)
    confidence: np.ndarray  # (BINS,) mean top-class probability (nan where empty)
    accuracy: np.ndarray  # (BINS,) share right (nan where empty)

    @property
    def ece(self) -> float:
        filled = self.counts > 0
        gap = np.abs(self.accuracy[filled] - self.confidence[filled])
        return float((gap * self.counts[filled]).sum() / self.counts.sum())


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> Reliability:
    probs = np.asarray(probs, np.float64)
    conf = probs.max(axis=1)
    right = (probs.argmax(axis=1) == np.asarray(labels)).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # bin b holds confidences in (edges[b], edges[b + 1]]; a confidence of 0 goes in bin 0
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, conf, bins) / counts
        mean_acc = np.bincount(which, right, bins) / counts
    return Reliability(edges, counts, mean_conf, mean_acc)


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error: the count-weighted mean gap between confidence and
    accuracy over 15 equal-width bins of the top class's probability."""
    return reliability(probs, labels, bins).ece


def scaled(probs: np.ndarray, temperature: float) -> np.ndarray:
    """The probabilities after temperature scaling (same arg-max)."""
    logits = np.log(np.maximum(np.asarray(probs, np.float64), _FLOOR)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return (out / out.sum(axis=1, keepdims=True)).astype(np.float32)


def _nll(probs: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    p = scaled(probs, temperature)[np.arange(len(labels)), labels]
    return float(-np.log(np.maximum(p.astype(np.float64), _FLOOR)).mean())


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of held-out labels."""
    # scipy's submodules take tenths of a second to import: only when needed
    from scipy.optimize import minimize_scalar

    labels = np.asarray(labels)
    result = minimize_scalar(
        lambda log_t: _nll(probs, labels, float(np.exp(log_t))),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(result.x))


@dataclass(frozen=True)
class Coverage:
    """Answer only when the top probability reaches a threshold: for each threshold, the
    share of images answered and the accuracy on them (thresholds ascending)."""

    thresholds: np.ndarray
    coverage: np.ndarray
    accuracy: np.ndarray

    def at_accuracy(self, target: float) -> tuple[float, float]:
        """The largest coverage keeping at least `target` accuracy, and its threshold
        (coverage 0 if no threshold reaches it)."""
        ok = self.accuracy >= target
        if not ok.any():
            return 0.0, 1.0
        best = int(np.argmax(np.where(ok, self.coverage, -1)))
        return float(self.coverage[best]), float(self.thresholds[best])


def coverage_curve(probs: np.ndarray, labels: np.ndarray) -> Coverage:
    conf = np.asarray(probs).max(axis=1)
    right = np.asarray(probs).argmax(axis=1) == np.asarray(labels)
    order = np.argsort(-conf, kind="stable")
    conf, right = conf[order], right[order]
    answered = np.arange(1, len(conf) + 1)
    acc = np.cumsum(right) / answered
    # keep the last position of each distinct confidence: a threshold answers all its ties
    last = np.r_[conf[1:] != conf[:-1], True]
    return Coverage(conf[last][::-1], (answered / len(conf))[last][::-1], acc[last][::-1])


def calibration_summary(
    val_probs: np.ndarray, val_labels: np.ndarray, test_probs: np.ndarray, test_labels, fitted_on
) -> Calibration:
    """What a manifest keeps: the temperature fitted on held-out images, and the test set's
    ECE before and after."""
    t = fit_temperature(val_probs, val_labels)
    return {
        "temperature": round(t, 4),
        "fitted_on": fitted_on,
        "ece": round(ece(test_probs, test_labels), 6),
        "ece_scaled": round(ece(scaled(test_probs, t), test_labels), 6),
        "bins": BINS,
    }


def held_out_images(manifest: Manifest, ds) -> tuple[np.ndarray, np.ndarray, str] | None:
    """The images a model's temperature is fitted on, and those words for the manifest: its
    recipe's validation split, held out from training. None for the tutorials that trained
    on all 60,000 images (they held nothing out)."""
    if manifest.get("validation", "split") != "split":
        return None
    seed = int(recipe_split_seed(manifest) or 0)
    x, y = ds.x_train, ds.y_train
    limit = manifest.get("limit")
    if limit:
        keep = stratified_subset(y, int(limit), int(manifest.get("seed", 0)))
        x, y = x[keep], y[keep]
    _, val = stratified_split(y, 0.2, seed)
    return x[val], y[val], f"the {len(val):,}-image validation split, held out from training"


def cross_fitted(test_probs: np.ndarray, test_labels: np.ndarray) -> Calibration:
    """For a model that held no images out: the temperature fitted on the test set, and the
    test set's ECE after scaling measured honestly, each half scaled by the temperature
    fitted on the other half (2-fold cross-fitting)."""
    a, b = stratified_split(np.asarray(test_labels), 0.5, seed=0)
    rescaled = np.empty_like(np.asarray(test_probs, np.float32))
    for fit_on, apply_to in ((a, b), (b, a)):
        t = fit_temperature(test_probs[fit_on], test_labels[fit_on])
        rescaled[apply_to] = scaled(test_probs[apply_to], t)
    return {
        "temperature": round(fit_temperature(test_probs, test_labels), 4),
        "fitted_on": "the test set, by 2-fold cross-fitting (the recipe trained on all 60,000 "
        "training images and held none out); ece_scaled scales each half of the test set with "
        "the temperature fitted on the other half",
        "ece": round(ece(test_probs, test_labels), 6),
        "ece_scaled": round(ece(rescaled, test_labels), 6),
        "bins": BINS,
    }


def calibrate(model, manifest: Manifest, ds, test_probs: np.ndarray) -> Calibration:
    """The manifest's "calibration" entry for a trained model (see calibration_summary)."""
    held_out = held_out_images(manifest, ds)
    if held_out is None:
        return cross_fitted(np.asarray(test_probs, np.float32), ds.y_test)
    x_val, y_val, words = held_out
    val_probs = predict_probabilities(model, x_val)
    return calibration_summary(val_probs, y_val, test_probs, ds.y_test, words)
