"""Links that reopen a view (fmnist_core/ui/links.py): each page's link read when it is
entered and written back as the view changes; unusable values named in one line. AppTests on
the shipped models and the real dataset, and a real browser for the round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fmnist_core.analysis.embeddings import make_request
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.ui.links import LinkValueError, class_index

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_page(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def ignored(at: AppTest) -> list[str]:
    return [i.value for i in at.info if "This link's" in i.value]


def test_a_class_by_name_any_case_or_by_index():
    assert class_index("Pullover") == class_index("pullover") == class_index("2") == 2
    assert class_index("T-shirt/top") == class_index("t-shirt") == class_index("tshirt") == 0
    assert class_index("Ankle boot") == class_index("ankle-boot") == 9
    for bad in ("10", "-1", "Sock", "", "shirts"):
        with pytest.raises(LinkValueError):
            class_index(bad)


def test_confusion_links_by_name_and_by_index_open_the_same_cell(real_dataset):
    by_name = open_page("confusion", model="cnn4", true="Pullover", pred="Coat")
    by_index = open_page("confusion", model="cnn4", true="2", pred="4")
    for at in (by_name, by_index):
        assert at.selectbox(key="cm_model").value == "cnn4"
        assert (at.selectbox(key="cm_true").value, at.selectbox(key="cm_pred").value) == (
            "Pullover",
            "Coat",
        )
        assert any(m.value.endswith("are Pullover and cnn4 said Coat (wrong); most confident first.")
                   for m in at.markdown)  # fmt: skip
        assert not ignored(at)
        # the address names the view the same way, whichever way it was asked for
        assert dict(at.query_params) == {"model": "cnn4", "true": "Pullover", "pred": "Coat"}
    # a second model in the link opens the comparison
    at = open_page("confusion", model="cnn4", true="Shirt", pred="0", vs="robust")
    assert at.toggle(key="cm_compare").value and at.selectbox(key="cm_other").value == "robust"
    assert at.selectbox(key="cm_pred").value == "T-shirt/top"
    assert at.query_params["vs"] == "robust"


def test_confusion_link_follows_the_view_and_says_what_it_ignored(real_dataset):
    at = open_page("confusion", model="sock", true="Sandal", pred="12")
    (line,) = ignored(at)
    assert "model='sock' (not a model here)" in line and "pred='12' (not a class)" in line
    assert at.selectbox(key="cm_true").value == "Sandal"  # the usable part is kept
    model = at.selectbox(key="cm_model").value
    assert at.query_params["model"] == model and model != "sock"
    at.selectbox(key="cm_pred").set_value("Sneaker").run()
    assert at.query_params["pred"] == "Sneaker"
    assert not ignored(at)  # said once, when the link was opened
    at.selectbox(key="cm_model").set_value("cnn1").run()
    assert at.query_params["model"] == "cnn1"


def test_compare_link_opens_its_models_and_metric(real_dataset):
    at = open_page("compare", models="cnn1,CNN4,nothing", metric="loss")
    assert at.multiselect(key="curve_models").value == ["cnn1", "cnn4"]
    assert at.segmented_control(key="curve_metric").value == "loss"
    (line,) = ignored(at)
    assert "models: 'nothing' (not a model here)" in line
    assert at.query_params["models"] == "cnn1,cnn4"
    at.segmented_control(key="curve_metric").set_value("accuracy").run()
    assert at.query_params["metric"] == "accuracy"


def test_inside_link_opens_its_model_and_test_image(real_dataset):
    at = open_page("inside", model="cnn1", second="none", image="42")
    assert at.selectbox(key="inside_model").value == "cnn1"
    assert at.selectbox(key="inside_second").value == "(none)"
    assert at.segmented_control(key="inside_source").value == "Test image"
    assert at.number_input(key="inside_index").value == 42
    assert dict(at.query_params) == {"model": "cnn1", "image": "42"}
    at = open_page("inside", model="ensemble", image="10000")  # no inside of its own
    (line,) = ignored(at)
    assert "model='ensemble'" in line and "image='10000'" in line


def test_data_quality_link_opens_its_tab_and_class_pair(real_dataset):
    at = open_page("quality", tab="test", labelled="shirt", looks_like="0")
    assert at.session_state["quality_tab"] == "Test set"
    assert at.selectbox(key="test_given").value == "Shirt"
    assert at.selectbox(key="test_suggested").value == CLASS_NAMES[0]
    assert dict(at.query_params) == {
        "tab": "test",
        "labelled": "Shirt",
        "looks_like": "T-shirt/top",
    }
    at = open_page("quality", tab="nope")
    assert "tab='nope'" in ignored(at)[0]
    assert at.query_params["tab"] == "train"


def test_embeddings_link_opens_its_view_in_the_form(real_dataset, isolated_cache):
    at = open_page("embeddings", source="pixels", method="tsne", size="2000", dims="3",
                   perplexity="40")  # fmt: skip
    want = make_request("pixels", "tsne", 2000, 3, perplexity=40.0, learning_rate="auto")
    assert at.session_state["embed_request"] == want
    assert at.selectbox(key="embed_method").value == "t-SNE"
    assert at.slider(key="embed_perplexity").value == 40
    assert at.radio(key="embed_dims").value == "3D"
    assert any("not computed yet" in i.value for i in at.info)  # a new server: press Run
    assert at.query_params["perplexity"] == "40" and "neighbours" not in at.query_params
    # a view that cannot be computed: said, and the usual view instead
    at = open_page("embeddings", method="tsne", size="70000")
    assert "t-SNE" not in str(at.session_state["embed_request"].method)
    assert any("only offered for PCA and UMAP" in line for line in ignored(at))


# ---- a real browser: each page's view survives its link ----------------------------------


def settled(page, timeout_s: float = 120) -> None:
    """The app has finished its run (and the address its update)."""
    page.wait_for_timeout(300)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        timeout=timeout_s * 1000
    )
    page.wait_for_timeout(300)


def choose(page, key: str, option: str) -> None:
    """Pick `option` in the selectbox with that key, as a person does."""
    box = page.locator(f".st-key-{key} [role='combobox']")
    box.click()
    wanted = page.get_by_role("option", name=option, exact=True)
    try:
        wanted.wait_for(timeout=2_000)
    except Exception:  # a click on the text field sometimes only focuses it (near a tab bar)
        box.press("ArrowDown")
    wanted.click()
    settled(page)


def reopened(browser, url: str):
    """The link opened in a fresh browser (a new context: no cookies, no session)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.locator("h1").first.wait_for(timeout=120_000)
    settled(page)
    return page


def active_segment(page, key: str) -> str:
    return page.locator(f".st-key-{key} [role='radio'][aria-checked='true']").inner_text()


@pytest.mark.slow
@pytest.mark.browser
def test_the_two_confusion_links_open_the_same_cell_in_a_fresh_browser(streamlit_url, browser):
    for query in ("model=cnn4&true=Pullover&pred=Coat", "model=cnn4&true=2&pred=4"):
        page = reopened(browser, f"{streamlit_url}/confusion?{query}")
        page.get_by_text("are Pullover and cnn4 said Coat (wrong)").wait_for(timeout=30_000)
        assert page.url.endswith("/confusion?model=cnn4&true=Pullover&pred=Coat")
        assert page.locator("[data-testid='stException']").count() == 0
        page.context.close()


@pytest.mark.slow
@pytest.mark.browser
def test_every_pages_view_round_trips_through_its_link(streamlit_url, browser, page):
    def check(path: str, change, same) -> None:
        page.goto(streamlit_url + path, wait_until="domcontentloaded")
        page.locator("h1").first.wait_for(timeout=120_000)
        settled(page)
        change()
        url = page.url
        assert "?" in url, f"{path}: the view is not in the address"
        other = reopened(browser, url)
        try:
            same(other)
            assert other.locator("[data-testid='stException']").count() == 0
            assert other.get_by_text("This link's").count() == 0
        finally:
            other.context.close()

    def confusion_change():
        choose(page, "cm_model", "cnn1")
        cells = page.locator("[data-testid='stPlotlyChart']").first.locator("g.points path")
        box = cells.nth(6 * 10 + 2).bounding_box()  # true Shirt, predicted Pullover
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.get_by_text("are Shirt and cnn1 said Pullover").wait_for(timeout=30_000)
        settled(page)

    check("/confusion", confusion_change,
          lambda p: p.get_by_text("are Shirt and cnn1 said Pullover").wait_for(timeout=30_000))  # fmt: skip

    def compare_change():
        page.locator(".st-key-curve_metric button").filter(has_text="loss").click()
        settled(page)

    check("/compare", compare_change, lambda p: active_segment(p, "curve_metric") == "loss" or
          pytest.fail("Compare reopened without its metric"))  # fmt: skip

    def embeddings_change():
        choose(page, "embed_method", "PCA")
        page.get_by_role("button", name="Run").click()
        page.get_by_text("PCA of 5,000 images from pixels").wait_for(timeout=120_000)
        settled(page)

    check("/embeddings", embeddings_change,
          lambda p: p.get_by_text("PCA of 5,000 images from pixels, 2D (from the cache").wait_for(timeout=60_000))  # fmt: skip

    def inside_change():
        choose(page, "inside_model", "cnn1")
        field = page.locator(".st-key-inside_index input")
        field.fill("42")
        field.press("Enter")
        page.get_by_text("Test image 42:").first.wait_for(timeout=60_000)
        settled(page)

    def inside_same(p):
        p.get_by_text("Test image 42:").first.wait_for(timeout=60_000)
        assert p.locator(".st-key-inside_model [role='combobox']").input_value() == "cnn1"

    check("/inside", inside_change, inside_same)

    def predict_change():
        page.locator(".st-key-source button").filter(has_text="Test image").click()
        settled(page)
        field = page.locator(".st-key-test_index input")
        field.fill("7")
        field.press("Enter")
        page.get_by_text("Test image 7:").first.wait_for(timeout=60_000)
        settled(page)

    check("/predict", predict_change,
          lambda p: p.get_by_text("Test image 7:").first.wait_for(timeout=60_000))  # fmt: skip

    def quality_change():
        page.get_by_role("tab", name="Test set").click()
        settled(page)
        choose(page, "test_given", "Shirt")

    def quality_same(p):
        assert p.get_by_role("tab", name="Test set").get_attribute("aria-selected") == "true"
        assert p.locator(".st-key-test_given [role='combobox']").input_value() == "Shirt"

    check("/quality", quality_change, quality_same)

    def models_change():
        choose(page, "models_model", "cnn4")

    check("/models", models_change,
          lambda p: p.get_by_role("heading", name="cnn4", exact=True).wait_for(timeout=30_000))  # fmt: skip


@pytest.mark.slow
@pytest.mark.browser
def test_copy_link_copies_the_address_of_the_view(streamlit_url, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=streamlit_url)
    page = context.new_page()
    try:
        page.goto(f"{streamlit_url}/confusion?model=cnn4&true=Shirt&pred=Coat")
        page.get_by_text("are Shirt and cnn4 said Coat").wait_for(timeout=120_000)
        settled(page)
        page.get_by_role("button", name="Copy link").click()
        page.get_by_role("button", name="Copied").wait_for(timeout=5_000)
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == page.url and copied.endswith("model=cnn4&true=Shirt&pred=Coat")
    finally:
        context.close()
