"""The home page, run headless by Streamlit's AppTest and in a real browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fmnist_core import CLASS_NAMES

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_home_shows_the_nine_images_and_every_class(real_dataset):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert at.title[0].value == "Fashion-MNIST CNN Explorer"
    assert len(at.image) == 9 + 10  # nine-image grid, then one row per class
    texts = " ".join(c for e in at.image for c in e.captions)
    y = real_dataset.y_train
    for i in range(9):
        assert f"{y[i]}: {CLASS_NAMES[y[i]]}" in texts
    for c, name in enumerate(CLASS_NAMES):
        assert f"{c}: {name}" in texts
    assert [m.value for m in at.metric][:2] == ["60,000", "10,000"]
    assert "Debian" in " ".join(m.value for m in at.markdown) or "FMNIST_DATA_DIR" in " ".join(
        m.value for m in at.markdown
    )


def test_home_without_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_DATA_DIR", str(tmp_path / "nothing-here"))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert "not available" in at.error[0].value
    assert "apt-get install dataset-fashion-mnist" in at.info[0].value
    assert len(at.image) == 0


@pytest.mark.browser
def test_home_in_a_real_browser(streamlit_url, page, tmp_path):
    page.goto(streamlit_url, wait_until="domcontentloaded")
    page.get_by_text("The first nine training images").wait_for(timeout=60_000)
    page.get_by_text("Ten examples of every class").wait_for(timeout=60_000)
    images = page.locator("[data-testid='stImage'] img")
    images.nth(18).wait_for(timeout=30_000)
    assert images.count() == 19
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)
