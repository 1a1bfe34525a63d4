"""Compare and confusion-matrix pages: numbers against scikit-learn, AppTests, a real browser."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import classification_report
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from streamlit.testing.v1 import AppTest

from fmnist_core import CLASS_NAMES
from fmnist_core.analysis.results import (
    ModelResults,
    matrix_csv,
    misclassified_csv,
    right_wrong,
    row_normalised,
    smooth,
    top_confusions,
)
from fmnist_core.versions import available_artifacts

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(scope="module")
def all_results(real_dataset):
    arts = available_artifacts()[0]
    if len(arts) < 2:
        pytest.fail("need at least two shipped models in assets/models")
    return {a.name: ModelResults.from_artifact(a, real_dataset.y_test) for a in arts}


def test_numbers_equal_scikit_learn(all_results):
    for r in all_results.values():
        y_pred = r.probs.argmax(1)
        np.testing.assert_array_equal(
            r.confusion(), sk_confusion_matrix(r.y_true, y_pred, labels=range(10))
        )
        report = classification_report(
            r.y_true, y_pred, output_dict=True, target_names=list(CLASS_NAMES)
        )
        for name, scores in r.scores().items():
            for key, sk_key in (
                ("precision", "precision"),
                ("recall", "recall"),
                ("f1", "f1-score"),
            ):
                assert scores[key] == pytest.approx(report[name][sk_key], abs=1e-9)
            assert scores["support"] == report[name]["support"]
        # the manifest's matrix (from training time) is the one the page shows
        np.testing.assert_array_equal(r.confusion(), np.array(r.manifest["confusion_matrix"]))


def test_derived_arrays_are_computed_once_and_shared_read_only(all_results):
    # Sessions share one ModelResults per model: the arrays must not be writable, and the
    # pages index them per image, so they are computed once, not per access.
    r = next(iter(all_results.values()))
    assert r.y_pred is r.y_pred and r.confidence is r.confidence
    np.testing.assert_array_equal(r.confidence, r.probs.max(axis=1))
    for arr in (r.y_pred, r.confidence, r.correct, r.confusion()):
        with pytest.raises(ValueError):
            arr[0] = 0


def test_cells_partition_the_test_set_and_sort_by_confidence(all_results):
    r = next(iter(all_results.values()))
    cm = r.confusion()
    seen = []
    for t in range(10):
        for p in range(10):
            idx = r.cell(t, p)
            assert len(idx) == cm[t, p]
            assert np.all(np.diff(r.confidence[idx]) <= 0)
            seen.extend(idx.tolist())
    assert sorted(seen) == list(range(10000))


def test_top_confusions_in_plain_words(all_results):
    r = next(iter(all_results.values()))
    cm = r.confusion()
    top = top_confusions(cm, 3)
    rates = row_normalised(cm)
    off = rates.copy()
    np.fill_diagonal(off, 0)
    assert top[0].rate == pytest.approx(off.max())
    assert top[0].rate >= top[1].rate >= top[2].rate
    sentence = top[0].sentence()
    assert (
        f"{round(top[0].rate * 100)}% of" in sentence and CLASS_NAMES[top[0].predicted] in sentence
    )


def test_right_wrong_between_two_models(all_results):
    a, b = list(all_results.values())[:2]
    a_only, b_only = right_wrong(a, b)
    assert np.all(a.correct[a_only]) and not np.any(b.correct[a_only])
    assert np.all(b.correct[b_only]) and not np.any(a.correct[b_only])
    # the accuracy difference is exactly what one gets right and the other wrong
    assert len(a_only) - len(b_only) == a.correct.sum() - b.correct.sum()


def test_csv_downloads(all_results):
    r = next(iter(all_results.values()))
    rows = list(csv.reader(io.StringIO(matrix_csv(r.confusion()))))
    assert rows[0][1:] == list(CLASS_NAMES)
    assert [int(v) for v in rows[7][1:]] == r.confusion()[6].tolist()
    wrong = list(csv.DictReader(io.StringIO(misclassified_csv(r))))
    assert len(wrong) == int((~r.correct).sum())
    first = wrong[0]
    assert int(first["true_label"]) != int(first["predicted_label"])
    assert float(first["confidence"]) >= float(wrong[-1]["confidence"])


def test_smoothing():
    assert smooth([1, 2, 3], 0) == [1, 2, 3]
    assert smooth([0, 10], 0.5) == [0, 5]


def test_compare_page(all_results):
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    board = at.dataframe[0].value
    assert set(board["Model"]) == set(all_results)
    best = board.iloc[0]
    assert best["Test accuracy"] == pytest.approx(
        max(r.correct.mean() for r in all_results.values()) * 100, abs=0.01
    )
    assert len(at.get("plotly_chart")) >= 3
    source = dict(zip(board["Model"], board["Source"]))
    assert source["robust"] == "beyond the tutorials" and source["baseline"] == "003"
    at.multiselect(key="curve_models").set_value(list(all_results)[:2]).run()
    assert not at.exception
    # what accuracy costs: one point per model against its measured one-image latency
    charts = len(at.get("plotly_chart"))
    at.segmented_control(key="tradeoff_cost").set_value("Predict latency").run()
    assert not at.exception and len(at.get("plotly_chart")) == charts
    figure = json.loads(at.get("plotly_chart")[-1].proto.spec)
    points = [
        t for t in figure["data"] if t.get("name") in ("tutorial models", "beyond the tutorials")
    ]
    assert sorted(n for t in points for n in t["text"]) == sorted(all_results)
    # every point is named on the chart (an annotation beside it)
    labels = [a["text"] for a in figure["layout"]["annotations"] if a.get("showarrow")]
    assert sorted(labels) == sorted(all_results)
    latencies = [x for t in points for x in t["x"]]
    assert all(0 < ms < 1000 for ms in latencies)
    assert any(t.get("name") == "Pareto front" for t in figure["data"])


def test_confusion_page_shows_exactly_the_cell(all_results, real_dataset):
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("pages/confusion.py").run()
    assert not at.exception
    # our own models are listed like any other, marked as beyond the tutorials
    assert "robust (beyond the tutorials)" in at.selectbox(key="cm_model").options
    name = list(all_results)[1]
    r = all_results[name]
    at.selectbox(key="cm_model").set_value(name).run()
    at.selectbox(key="cm_true").set_value("Coat").run()
    at.selectbox(key="cm_pred").set_value("Pullover").run()
    assert not at.exception
    expected = int(r.confusion()[4, 2])
    assert expected > 0
    grid = at.image[0]
    assert len(grid.captions) == min(expected, 30)  # 30 a page
    if expected > 30:
        pages = at.number_input(key="cm_page")
        pages.set_value(pages.max).run()
        assert len(at.image[0].captions) == expected - 30 * (pages.max - 1)
    order = r.cell(4, 2)
    assert grid.captions[0].startswith(f"#{order[0]} ")
    assert f"**{expected} images** are Coat and {name} said Pullover" in " ".join(
        m.value for m in at.markdown
    )
    labels = [b.proto.label for b in at.get("download_button")]
    # the cell's images, the matrix, the misclassified list and images, the report
    assert len(labels) == 5 and f"These {expected} images (ZIP)" in labels
    at.toggle(key="cm_compare").set_value(True).run()
    other = at.selectbox(key="cm_other").value
    mine, theirs = right_wrong(r, all_results[other])
    assert f"{name} right, {other} wrong: {len(mine)} images" in " ".join(
        m.value for m in at.markdown
    )
    assert [len(i.captions) for i in at.image][-2:] == [min(len(mine), 20), min(len(theirs), 20)]


@pytest.mark.browser
def test_click_a_cell_in_a_real_browser(streamlit_url, page, all_results):
    page.goto(streamlit_url + "/confusion", wait_until="domcontentloaded")
    page.get_by_text("most confident first").wait_for(timeout=90_000)
    chart = page.locator("[data-testid='stPlotlyChart']").first
    cells = chart.locator("g.points path")
    cells.nth(99).wait_for(timeout=30_000)
    box = cells.nth(6 * 10 + 0).bounding_box()  # true Shirt, predicted T-shirt/top
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    line = page.get_by_text("are Shirt and")
    line.wait_for(timeout=30_000)
    found = re.search(r"(\d+) images are Shirt and (\S+) said T-shirt/top", line.inner_text())
    count, model = int(found.group(1)), found.group(2)
    assert count == all_results[model].confusion()[6, 0]
    expected = count
    thumbs = page.locator("[data-testid='stImage']").first.locator(
        "[data-testid='stImageContainer']"
    )
    thumbs.nth(min(expected, 30) - 1).wait_for(timeout=30_000)
    assert thumbs.count() == min(expected, 30)
    assert page.locator("[data-testid='stException']").count() == 0
