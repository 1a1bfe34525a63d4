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
    assert [h.value for h in at.subheader][:2] == ["One model", "Beyond the tutorials"]
    assert any("robust" in m.value and "outlines" in m.value for m in at.markdown)


def test_models_page_link_opens_one_model_and_its_version():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["model"] = "robust@shipped"
    at.switch_page("pages/models.py").run()
    assert not at.exception and not any("link" in i.value for i in at.info)
    assert at.selectbox(key="models_model").value == "robust"
    assert any(m.value == "#### robust (beyond the tutorials)" for m in at.markdown)
    assert at.query_params["model"] == "robust"  # its only version: the name is the link
    for bad, says in (("sock", "not a model here"), ("robust@2020-01-01", "no such version")):
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["model"] = bad
        at.switch_page("pages/models.py").run()
        assert not at.exception
        assert at.selectbox(key="models_model").value == list_models()[0]
        assert any(f"model={bad!r} ({says})" in i.value for i in at.info), at.info


@pytest.mark.browser
def test_models_page_in_a_real_browser(streamlit_url, page):
    page.goto(streamlit_url + "/models", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Models").wait_for(timeout=60_000)
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.get_by_text("needs ImageNet weights").count() >= 1
