"""Is a model really better, or just lucky on these 10,000 images? Bootstrap intervals for
accuracy and per-class recall, and McNemar's exact test between two models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    def in_words(self, percent: bool = True) -> str:
        if percent:
            return f"{self.value:.2%} (95% interval {self.low:.2%} to {self.high:.2%})"
        return f"{self.value:.4f} (95% interval {self.low:.4f} to {self.high:.4f})"


def bootstrap_accuracy(
    right: np.ndarray, resamples: int = RESAMPLES, seed: int = 0, level: float = 0.95
) -> Interval:
    """Accuracy with a percentile bootstrap interval (resampling the images).

    Drawing n images with replacement and counting the right ones gives a Binomial(n,
    accuracy) count: the resamples are drawn from that distribution directly, exactly the
    bootstrap's, in microseconds instead of gathering n indices per resample."""
    right = np.asarray(right, bool)
    n = len(right)
    stats = np.random.default_rng(seed).binomial(n, right.mean(), size=resamples) / n
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return Interval(float(right.mean()), float(low), float(high))


def bootstrap_recall(
    labels: np.ndarray,
    predicted: np.ndarray,
    classes: int = 10,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> list[Interval]:
    """Each class's recall with a percentile bootstrap interval. A resample's counts of
    (true class, right or wrong) follow a multinomial over those 2 x classes cells, drawn
    directly as in bootstrap_accuracy."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    right = labels == predicted
    cells = np.bincount(labels * 2 + right, minlength=2 * classes) / len(labels)
    counts = np.random.default_rng(seed).multinomial(len(labels), cells, size=resamples)
    counts = counts.reshape(resamples, classes, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = counts[..., 1] / counts.sum(axis=-1)
    tail = (1 - level) / 2 * 100
    lows, highs = np.nanpercentile(stats, [tail, 100 - tail], axis=0)
    out = []
    for c in range(classes):
        members = labels == c
        value = float(right[members].mean()) if members.any() else float("nan")
        out.append(Interval(value, float(lows[c]), float(highs[c])))
    return out


@dataclass(frozen=True)
class McNemar:
    a: str
    b: str
    only_a: int  # images a got right and b wrong
    only_b: int
    n: int
    p_value: float  # exact two-sided binomial test on the discordant pairs

    def in_words(self, alpha: float = 0.05) -> str:
        p = f"p = {self.p_value:.3g}" if self.p_value >= 0.001 else "p < 0.001"
        counts = f"{self.a} alone right on {self.only_a:,}, {self.b} alone right on {self.only_b:,}"
        if self.p_value < alpha and self.only_a != self.only_b:
            better, worse = (self.a, self.b) if self.only_a > self.only_b else (self.b, self.a)
            return f"{better} is better than {worse}: {p} on {self.n:,} images ({counts})."
        return (
            f"No significant difference between {self.a} and {self.b}: {p} on {self.n:,} "
            f"images ({counts}); the gap could be luck."
        )


def mcnemar(right_a: np.ndarray, right_b: np.ndarray, a: str = "A", b: str = "B") -> McNemar:
    """McNemar's exact test: of the images exactly one model got right, is the split more
    lopsided than a fair coin would make it?"""
    # scipy's submodules take tenths of a second to import: only when needed
    from scipy.stats import binomtest

    right_a, right_b = np.asarray(right_a, bool), np.asarray(right_b, bool)
    only_a = int((right_a & ~right_b).sum())
    only_b = int((~right_a & right_b).sum())
    discordant = only_a + only_b
    p = 1.0 if discordant == 0 else float(binomtest(only_a, discordant, 0.5).pvalue)
    return McNemar(a, b, only_a, only_b, len(right_a), min(1.0, p))
