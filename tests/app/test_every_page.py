"""Every page in the navigation opens without an exception, and without the dataset says how
to get it."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fmnist_core.ui.navigation import PAGES

ROOT = Path(__file__).resolve().parents[2]
DATA_PAGES = {
    "pages/home.py",
    "pages/compare.py",
    "pages/confusion.py",
    "pages/embeddings.py",
    "pages/inside.py",
    "pages/quality.py",
}


@pytest.mark.parametrize("page", [p.path for p in PAGES])
def test_every_page_without_the_dataset_says_how_to_get_it(page, tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_DATA_DIR", str(tmp_path / "no-data-here"))
    monkeypatch.setenv("FMNIST_CACHE_DIR", str(tmp_path / "cache"))
    at = AppTest.from_file(str(ROOT / page), default_timeout=120).run()
    assert not at.exception
    if page == "pages/predict.py":  # drawing needs no dataset; a test image does
        assert at.segmented_control(key="source").value == "Draw"
        assert not at.error
        at.segmented_control(key="source").set_value("Test image").run()
        assert not at.exception
    if page in DATA_PAGES or page == "pages/predict.py":
        assert any("not available" in e.value for e in at.error), [e.value for e in at.error]
        assert any("apt-get install dataset-fashion-mnist" in i.value for i in at.info)
