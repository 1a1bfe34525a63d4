"""The hand-over report: every model-card section, self-contained, opens in Chromium with no
network; the CLI's clear messages; the Confusion page offers it."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from fmnist_core.report import COMPARISON, SECTIONS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def report_file(real_dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "cnn4.html"
    run = subprocess.run(
        [sys.executable, "-m", "fmnist_core", "report", "cnn4", "--vs", "baseline",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "written to" in run.stdout
    return out


@pytest.mark.slow
def test_report_has_every_section_and_needs_no_network(report_file, real_dataset):
    from fmnist_core.analysis.results import ModelResults
    from fmnist_core.analysis.significance import mcnemar
    from fmnist_core.versions import find_artifact

    text = report_file.read_text()
    for title in [*SECTIONS, COMPARISON]:
        assert f"<h2>{title}</h2>" in text, title
    # nothing fetched from elsewhere: no external scripts, styles or images (plotly.js, inline,
    # holds link texts of its own: look at the page's markup, outside the scripts)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", text, flags=re.S)
    assert not re.search(r"""(src|href)=["']https?://""", markup)
    assert "<script src=" not in text and "<link" not in markup
    assert text.count("data:image/png;base64,") >= 7
    r = ModelResults.from_artifact(find_artifact("cnn4"), real_dataset.y_test)
    o = ModelResults.from_artifact(find_artifact("baseline"), real_dataset.y_test)
    assert html.escape(mcnemar(r.correct, o.correct, "cnn4", "baseline").in_words()) in text
    acc = r.accuracy_interval
    assert f"{acc.low:.2%} to {acc.high:.2%}" in text


@pytest.mark.browser
def test_report_opens_offline_in_a_real_browser(report_file, browser, tmp_path):
    context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    fetched = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(report_file.as_uri())
    for title in [*SECTIONS, COMPARISON]:
        page.get_by_role("heading", name=title, exact=True).wait_for(timeout=30_000)
    page.locator(".main-svg").nth(2).wait_for(timeout=30_000)  # plotly drew the figures
    assert page.locator(".js-plotly-plot").count() >= 3
    assert all(u.startswith(("file:", "data:", "blob:", "about:")) for u in fetched), fetched
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    context.close()


@pytest.mark.slow
def test_report_cli_messages(tmp_path):
    bad = run_cli("report", "nosuchmodel", "--out", str(tmp_path / "r.html"))
    assert bad.returncode == 2 and "Unknown model" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli("report", "cnn4", "--out", str(tmp_path / "no" / "such" / "r.html"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    folder = run_cli("report", "cnn4", "--out", str(tmp_path))
    assert folder.returncode == 2 and "is a folder" in folder.stderr


def test_confusion_page_offers_the_report(real_dataset):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.switch_page("pages/confusion.py").run()
    assert not at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    assert any(label.startswith("Report for people who were not here") for label in labels)
    # the two-model view names the better model with McNemar's test
    at.toggle(key="cm_compare").set_value(True).run()
    assert not at.exception
    texts = [e.value for e in at.success] + [e.value for e in at.info]
    assert any("p = " in t or "p < 0.001" in t for t in texts)
    labels = [b.proto.label for b in at.get("download_button")]
    assert any(", against " in label for label in labels)


@pytest.mark.slow
def test_the_reports_picture_sets_are_made_once_and_read_back_the_same(
    real_dataset, isolated_cache
):
    """The Known limits section's pictures are model-independent: made once, kept on disk,
    read back identical (a later report, another server, a restart), and a damaged file is
    made again."""
    from fmnist_core import report

    ds = real_dataset
    report._PICTURE_INPUTS.clear()
    made = report.picture_set_inputs(ds.x_test, ds.y_test, n=40)
    (kept,) = (isolated_cache / "reports").glob("picture-sets-40-*.npz")
    report._PICTURE_INPUTS.clear()
    read = report.picture_set_inputs(ds.x_test, ds.y_test, n=40)
    assert list(read) == list(made) == list(report.PICTURE_SETS)
    for kind in made:
        assert np.array_equal(read[kind][0], made[kind][0])
        assert (read[kind][1] is None) == (made[kind][1] is None)
        if made[kind][1] is not None:
            assert np.array_equal(read[kind][1], made[kind][1])
    kept.write_bytes(b"not an npz")  # damaged: made again, same pictures
    report._PICTURE_INPUTS.clear()
    again = report.picture_set_inputs(ds.x_test, ds.y_test, n=40)
    assert all(np.array_equal(again[k][0], made[k][0]) for k in made)


def test_a_versions_known_limits_are_computed_once_and_kept(real_dataset, isolated_cache):
    """The Known limits figures of one model file: predicted once, then read from disk by
    every later report (the model is not even loaded); another file gets its own."""
    from fmnist_core import report
    from fmnist_core.contracts import model_sha256
    from fmnist_core.versions import find_artifact

    ds = real_dataset
    art = find_artifact("cnn1")
    loads = []

    def load():
        loads.append(1)
        return art.load_model()

    sha = model_sha256(art.manifest)
    first = report.picture_set_accuracy("cnn1", load, ds.x_test, ds.y_test, n=40, model_sha=sha)
    assert len(loads) == 1 and len(first) == len(report.PICTURE_SETS) + 1
    assert all(0.0 <= v <= 1.0 for v in first.values())
    again = report.picture_set_accuracy("cnn1", load, ds.x_test, ds.y_test, n=40, model_sha=sha)
    assert again == first and len(loads) == 1  # from the disk, no model loaded
    (kept,) = (isolated_cache / "reports").glob("limits-cnn1-*.json")
    kept.write_text("{broken")
    assert report.picture_set_accuracy("cnn1", load, ds.x_test, ds.y_test, n=40,
                                       model_sha=sha) == first  # fmt: skip
    assert len(loads) == 2
    report.picture_set_accuracy("cnn1", load, ds.x_test, ds.y_test, n=40, model_sha="other")
    assert len(loads) == 3 and len(list((isolated_cache / "reports").glob("limits-*"))) == 2
