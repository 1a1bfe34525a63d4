"""Trusting the numbers: calibration (ECE, temperature scaling, coverage), bootstrap
intervals and McNemar's test, checked against plain reference computations and scipy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fmnist_core.analysis import calibration as cal
from fmnist_core.analysis import significance as sig
from fmnist_core.versions import available_artifacts

ROOT = Path(__file__).resolve().parents[2]


def _reference_ece(probs, labels, bins=15):
    """ECE written out the textbook way: a loop over (lo, hi] bins."""
    conf = probs.max(axis=1)
    right = probs.argmax(axis=1) == labels
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = (conf > lo) & (conf <= hi) if b else (conf >= lo) & (conf <= hi)
        if members.any():
            total += members.sum() * abs(right[members].mean() - conf[members].mean())
    return total / len(labels)


@pytest.fixture(scope="module")
def stored(real_dataset):
    artifacts, problems = available_artifacts()
    assert artifacts and not problems
    return {a.name: (a, a.test_probabilities()) for a in artifacts}


def test_ece_equals_the_reference_on_every_shipped_model(stored, real_dataset):
    y = real_dataset.y_test
    for name, (_art, probs) in stored.items():
        ours = cal.ece(probs, y)
        assert ours == pytest.approx(_reference_ece(probs.astype(np.float64), y), abs=1e-6), name
        r = cal.reliability(probs, y)
        assert r.counts.sum() == len(y) and len(r.edges) == 16


def test_temperature_scaling_lowers_ece_and_changes_no_prediction(stored, real_dataset):
    y = real_dataset.y_test
    lowered = 0
    for art, probs in stored.values():
        entry = art.manifest["calibration"]
        t = entry["temperature"]
        after = cal.scaled(probs, t)
        np.testing.assert_array_equal(after.argmax(axis=1), probs.argmax(axis=1))
        assert entry["ece"] == pytest.approx(cal.ece(probs, y), abs=1e-6)
        lowered += entry["ece_scaled"] < entry["ece"]
    assert lowered > len(stored) / 2, "temperature scaling should lower ECE for most models"
    # a model made over-confident on purpose gets T > 1, an under-confident one T < 1
    logp = np.log(np.clip(stored["cnn4"][1].astype(np.float64), 1e-30, 1))
    sharp = cal.scaled(np.exp(logp), 0.4)
    assert cal.fit_temperature(sharp, y) > 2
    assert cal.fit_temperature(cal.scaled(np.exp(logp), 3.0), y) < 0.6


def test_fitted_temperature_minimises_the_held_out_loss(real_dataset, stored):
    probs = stored["cnn1"][1]
    y = real_dataset.y_test
    t = cal.fit_temperature(probs, y)
    for other in (t * 0.9, t * 1.1):
        assert cal._nll(probs, y, t) <= cal._nll(probs, y, other)


def test_coverage_curve():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    labels = np.array([0, 1, 1, 0])  # right, wrong, right, right
    c = cal.coverage_curve(probs, labels)
    np.testing.assert_allclose(c.thresholds, [0.6, 0.7, 0.8, 0.9])
    np.testing.assert_allclose(c.coverage, [1.0, 0.75, 0.5, 0.25])
    np.testing.assert_allclose(c.accuracy, [0.75, 2 / 3, 0.5, 1.0])
    assert c.at_accuracy(0.75) == (1.0, 0.6)
    assert c.at_accuracy(0.9) == (0.25, 0.9)


def test_bootstrap_interval_matches_a_plain_loop():
    """The binomial shortcut and resampling indices one by one give the same interval."""
    rng = np.random.default_rng(5)
    right = rng.random(500) < 0.8
    ours = sig.bootstrap_accuracy(right, resamples=20_000, seed=3)
    draws = np.random.default_rng(3).integers(0, 500, size=(4000, 500))
    plain = np.percentile(right[draws].mean(axis=1), [2.5, 97.5])
    assert (ours.low, ours.high) == pytest.approx(tuple(plain), abs=0.006)
    assert ours.low < ours.value < ours.high
    # the textbook normal approximation is close for a sample this size
    se = np.sqrt(right.mean() * (1 - right.mean()) / 500)
    assert ours.high - ours.low == pytest.approx(2 * 1.96 * se, rel=0.2)


def test_bootstrap_recall_per_class():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 900)
    predicted = np.where(rng.random(900) < np.array([0.95, 0.7, 0.5])[labels], labels, 0)
    out = sig.bootstrap_recall(labels, predicted, classes=3, resamples=20_000, seed=0)
    draws = np.random.default_rng(2).integers(0, 900, size=(3000, 900))
    for c in range(3):  # against resampling indices one by one
        recalls = [(predicted[d][labels[d] == c] == c).mean() for d in draws]
        plain = np.percentile(recalls, [2.5, 97.5])
        assert (out[c].low, out[c].high) == pytest.approx(tuple(plain), abs=0.012)
    for c, interval in enumerate(out):
        assert interval.value == pytest.approx((predicted[labels == c] == c).mean())
        assert interval.low <= interval.value <= interval.high
    assert out[0].low > out[1].high > out[2].high  # the three recalls are far apart


def test_mcnemar_against_scipy_and_in_words():
    from scipy.stats import binomtest

    a = np.array([1] * 60 + [0] * 25 + [1] * 900 + [0] * 15, bool)
    b = np.array([0] * 60 + [1] * 25 + [1] * 900 + [0] * 15, bool)
    m = sig.mcnemar(a, b, "cnn4", "baseline")
    assert (m.only_a, m.only_b, m.n) == (60, 25, 1000)
    assert m.p_value == pytest.approx(binomtest(60, 85, 0.5).pvalue)
    assert m.in_words().startswith("cnn4 is better than baseline: p < 0.001")
    assert "on 1,000 images" in m.in_words()
    even = sig.mcnemar(a, a, "x", "y")
    assert even.p_value == 1.0 and even.in_words().startswith("No significant difference")
    swapped = sig.mcnemar(b, a, "baseline", "cnn4")
    assert swapped.in_words().startswith("cnn4 is better than baseline")


@pytest.mark.slow
def test_evaluate_json_has_ece_and_temperature(stored, real_dataset):
    run = subprocess.run(
        [sys.executable, "-m", "fmnist_core", "evaluate", "cnn1", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    art, probs = stored["cnn1"]
    assert report["temperature"] == art.manifest["calibration"]["temperature"]
    assert report["ece"] == pytest.approx(cal.ece(probs, real_dataset.y_test), abs=2e-3)


def test_compare_page_shows_intervals_and_calibration_on_request(stored, real_dataset):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "compare.py"), default_timeout=240).run()
    assert not at.exception
    board = at.dataframe[0].value
    assert {"95% interval", "ECE"} <= set(board.columns)
    row = board[board["Model"] == "cnn4"].iloc[0]
    art, probs = stored["cnn4"]
    interval = sig.bootstrap_accuracy(probs.argmax(axis=1) == real_dataset.y_test)
    assert row["95% interval"] == f"{interval.low * 100:.2f}-{interval.high * 100:.2f}%"
    charts = len(at.get("plotly_chart"))
    at.toggle(key="show_calibration").set_value(True).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == charts + 2  # reliability and coverage
    table = at.dataframe[-1].value
    assert "Answers at 95.0% accuracy" in table.columns
