"""The Models page: the registry with each model's status, in AppTest and a real browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fmnist_core.models import list_models

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_models_page_lists_every_registry_model():
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("pages/models.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["Model"].tolist() == list_models()
    status = dict(zip(table["Model"], table["Status"]))
    assert status["vgg19"] in ("needs weights", "trained", "shipped")
    shipped = table[table["Status"] == "shipped"]
    assert shipped["Accuracy"].between(80, 100).all()
    # an empty cell says nothing, never "None"; the long texts are in a table of their own, so
    # the first fits a 1400-pixel window without a cut column
    assert at.dataframe[0].proto.placeholder == "—"
    assert len(table.columns) <= 10 and "Architecture" not in table.columns
    assert "Architecture" in at.dataframe[1].value.columns
    source = dict(zip(table["Model"], table["Source"]))
    assert source["robust"] == "beyond the tutorials" and source["cnn1"] == "tutorial 000"
    # our own models get their recipe in words, marked as beyond the tutorials
    assert at.subheader[0].value == "Beyond the tutorials"
    assert any("robust" in m.value and "outlines" in m.value for m in at.markdown)


@pytest.mark.browser
def test_models_page_in_a_real_browser(streamlit_url, page):
    page.goto(streamlit_url + "/models", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Models").wait_for(timeout=60_000)
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.get_by_text("needs ImageNet weights").count() >= 1
