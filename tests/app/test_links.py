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
