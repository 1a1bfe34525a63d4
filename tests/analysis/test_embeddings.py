"""Embeddings on real test images: cache keys, PCA, custom axis, class separation, CLI, page."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from streamlit.testing.v1 import AppTest

from fmnist_core.analysis import embeddings as fe
from fmnist_core.analysis.embeddings import EmbeddingError, cache_key, embed, make_request

ROOT = Path(__file__).resolve().parents[2]


def knn_accuracy(points: np.ndarray, labels: np.ndarray) -> float:
    """5-nearest-neighbour class accuracy, 5-fold cross-validated."""
    return float(cross_val_score(KNeighborsClassifier(5), points, labels, cv=5).mean())


@pytest.fixture(scope="module")
def small(real_dataset):
    """500 stratified real test images as pixel features."""
    idx = fe.subset_indices(real_dataset.y_test, 500, seed=0)
    x, y = real_dataset.x_test[idx], real_dataset.y_test[idx]
    return fe.compute_features("pixels", x)[0], y


def test_cache_key_hits_for_the_same_request_and_changes_with_any_input():
    base = make_request("pixels", "tsne", 2000, 2, perplexity=30.0)
    assert cache_key(base) == cache_key(make_request("pixels", "tsne", 2000, 2, perplexity=30.0))
    # defaults written out or left implicit are the same request
    assert cache_key(base) == cache_key(make_request("pixels", "tsne", 2000, 2))
    variants = [
        make_request("pixels", "tsne", 2000, 2, perplexity=40.0),
        make_request("pixels", "tsne", 3000, 2),
        make_request("pixels", "tsne", 2000, 3),
        make_request("pixels", "tsne", 2000, 2, seed=1),
        make_request("pixels", "umap", 2000, 2),
        make_request("strided3", "tsne", 2000, 2),
    ]
    keys = {cache_key(v) for v in variants}
    assert len(keys) == len(variants) and cache_key(base) not in keys


def test_retraining_the_source_model_changes_the_key(monkeypatch):
    req = make_request("strided3", "pca", 1000, 2)
    before = cache_key(req)
    monkeypatch.setattr(fe, "source_fingerprint", lambda source: "strided3:another-model-file")
    assert cache_key(req) != before


def test_cached_result_is_reused_and_a_change_recomputes(real_dataset, isolated_cache):
    req = make_request("pixels", "pca", 1000, 2)
    first = embed(req, dataset=real_dataset)
    assert not first.from_cache and (isolated_cache / "embeddings").is_dir()
    again = embed(req, dataset=real_dataset)
    assert again.from_cache
    np.testing.assert_array_equal(first.coords, again.coords)
    other = embed(make_request("pixels", "pca", 1000, 3), dataset=real_dataset)
    assert not other.from_cache and other.coords.shape == (1000, 3)


def test_damaged_cache_file_is_recomputed(real_dataset, isolated_cache):
    req = make_request("pixels", "pca", 1000, 2)
    embed(req, dataset=real_dataset)
    cached = next((isolated_cache / "embeddings").glob("*.npz"))
    cached.write_bytes(b"broken")
    assert not embed(req, dataset=real_dataset).from_cache


def test_pca_variance_ratios_match_scikit_learn(real_dataset):
    emb = embed(make_request("pixels", "pca", 1000, 2), dataset=real_dataset, use_cache=False)
    ratios = np.array(emb.info["explained_variance_ratio"])
    x = fe.compute_features("pixels", real_dataset.x_test[emb.indices])[0]
    reference = PCA(10).fit(x)
    np.testing.assert_allclose(ratios, reference.explained_variance_ratio_, rtol=1e-3)
    assert np.all(np.diff(ratios) <= 0) and ratios.sum() <= 1
    # the coordinates are the first two components (up to sign)
    ref = reference.transform(x)[:, :2]
    for k in range(2):
        assert abs(np.corrcoef(emb.coords[:, k], ref[:, k])[0, 1]) > 0.999


def test_custom_axis_is_the_centroid_difference(real_dataset):
    emb = embed(
        make_request("pixels", "custom", 1000, 2, class_a=6, class_b=0),
        dataset=real_dataset,
        use_cache=False,
    )
    x = fe.compute_features("pixels", real_dataset.x_test[emb.indices])[0]
    y = emb.labels
    diff = x[y == 6].mean(0) - x[y == 0].mean(0)
    axis = diff / np.linalg.norm(diff)
    np.testing.assert_allclose(emb.info["axis_vector"], axis, atol=1e-5)
    np.testing.assert_allclose(emb.coords[:, 0], (x - x.mean(0)) @ axis, atol=1e-4)
    # along the axis the two class means are exactly the centroid distance apart
    gap = emb.coords[y == 6, 0].mean() - emb.coords[y == 0, 0].mean()
    assert gap == pytest.approx(np.linalg.norm(diff), rel=1e-4)


@pytest.mark.parametrize("method", ["tsne", "umap"])
@pytest.mark.slow
def test_tsne_and_umap_keep_classes_apart(small, method):
    """Bound: 5-NN accuracy of the 10 classes in the raw 784-D pixels of these 500 images is
    the reference (about 0.75, chance 0.10). A faithful 2-D map keeps most of it: we ask for
    at least 85% of it."""
    features, labels = small
    req = fe.EmbedRequest("pixels", method, 1000, 2)  # n only validates; the runners take features
    runner = fe.run_tsne if method == "tsne" else fe.run_umap
    coords, _ = runner(features, req, lambda event: None)
    assert coords.shape == (500, 2) and np.isfinite(coords).all()
    high = knn_accuracy(features, labels)
    low = knn_accuracy(coords, labels)
    assert high > 0.6
    assert low >= 0.85 * high, (low, high)


def test_requests_are_validated():
    with pytest.raises(EmbeddingError, match="only offered for PCA and UMAP"):
        make_request("pixels", "tsne", 70000)
    with pytest.raises(EmbeddingError, match="between"):
        make_request("pixels", "pca", 50)
    with pytest.raises(EmbeddingError, match="Unknown method"):
        make_request("pixels", "isomap", 1000)


def test_place_a_new_image(real_dataset):
    emb = embed(make_request("pixels", "pca", 1000, 2), dataset=real_dataset, use_cache=False)
    feats = fe.compute_features("pixels", real_dataset.x_test[emb.indices])[0]
    # an image that is already in the map lands exactly on its own point
    np.testing.assert_allclose(fe.place_point(emb, feats, feats[7]), emb.coords[7], atol=1e-4)
    tsne = fe.Embedding(
        fe.EmbedRequest("pixels", "tsne", 1000, 2), emb.coords, emb.indices, emb.labels
    )
    with pytest.raises(EmbeddingError, match="cannot place new points"):
        fe.place_point(tsne, feats, feats[0])


@pytest.mark.slow
def test_cli_embed_csv(real_dataset, tmp_path):
    out = tmp_path / "pca.csv"
    run = subprocess.run(
        [sys.executable, "-m", "fmnist_core", "embed", "--source", "strided3", "--method", "pca",
         "--n", "1000", "--dims", "3", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 1000
    assert list(rows[0]) == ["index", "x", "y", "z", "label", "class", "predicted", "confidence"]
    idx = [int(r["index"]) for r in rows]
    assert [int(r["label"]) for r in rows] == real_dataset.y_test[idx].tolist()
    bad = subprocess.run([sys.executable, "-m", "fmnist_core", "embed", "--method", "tsne", "--n", "70000"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2 and "only offered for PCA and UMAP" in bad.stderr


def test_hover_sprite_png_holds_every_image_and_is_encoded_once(real_dataset):
    from PIL import Image

    from fmnist_core.ui.hover_images import COLUMNS, sprite_png

    images = real_dataset.x_test[:123]
    png = sprite_png(images, "test-sprite")
    decoded = np.asarray(Image.open(io.BytesIO(png)))
    assert decoded.shape == (3 * 28, COLUMNS * 28)
    r, c = divmod(122, COLUMNS)
    np.testing.assert_array_equal(
        decoded[r * 28 : (r + 1) * 28, c * 28 : (c + 1) * 28], images[122]
    )
    assert sprite_png(images, "test-sprite") is png  # reruns reuse the encoded bytes


def test_embeddings_page_runs_and_then_opens_from_the_cache(real_dataset):
    at = AppTest.from_file(str(ROOT / "pages" / "embeddings.py"), default_timeout=300).run()
    assert not at.exception
    at.selectbox[1].set_value("PCA")
    at.select_slider[0].set_value(1000)
    at.button[0].click().run()
    assert not at.exception
    assert "computed in" in at.caption[0].value and "PCA of 1,000 images" in at.caption[0].value
    assert len(at.get("plotly_chart")) == 2  # the map and the variance explained
    at2 = AppTest.from_file(str(ROOT / "pages" / "embeddings.py"), default_timeout=300)
    at2.session_state["embed_request"] = make_request("pixels", "pca", 1000, 2)
    at2.run()
    assert "from the cache" in at2.caption[0].value
    assert len(at2.get("download_button")) == 1


@pytest.mark.browser
def test_select_points_in_a_cached_view(streamlit_url, page):
    """The shipped default view opens from the cache; a box selection shows those images."""
    page.goto(streamlit_url + "/embeddings", wait_until="domcontentloaded")
    page.get_by_text("from the cache").wait_for(timeout=90_000)
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.locator(".main-svg").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    box = chart.bounding_box()
    # hovering dots shows their image beside the mouse (not only a text label)
    shown = False
    for fx in np.linspace(0.1, 0.9, 17):
        for fy in np.linspace(0.1, 0.9, 9):
            page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
            page.wait_for_timeout(60)
            ink = page.evaluate(
                """() => { const t = document.getElementById('fmnist-hover-image');
                if (!t || t.style.display !== 'block') return -1;
                return t.getContext('2d').getImageData(0, 0, 28, 28).data.reduce((a, b) => a + b, 0); }"""
            )
            if ink > 28 * 28 * 255:  # more than the alpha channel alone: a real image
                shown = True
                break
        if shown:
            break
    assert shown, "no image appeared on hover"
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    # a lasso (the chart's drag mode) around the middle of the map
    corners = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75), (0.25, 0.25)]
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
    page.mouse.down()
    for fx, fy in corners[1:]:
        page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy, steps=6)
    page.mouse.up()
    page.get_by_text("selected images").wait_for(timeout=30_000)
    thumbs = page.locator("[data-testid='stImageContainer']:visible")  # not the hidden sprite
    thumbs.first.wait_for(timeout=30_000)
    assert thumbs.count() >= 2
    assert page.locator("[data-testid='stException']").count() == 0


@pytest.mark.slow
def test_umap_warm_up_runs_the_real_code_and_the_server_starts_it(tmp_path):
    from fmnist_core.analysis.embeddings import warm_up_umap

    assert warm_up_umap() > 0  # the same run_umap path as a view, on 300 random points
    code = (
        "import threading, fmnist_core.ui as ui\n"
        "print(sorted(t.name for t in threading.enumerate()))\n"
    )
    root = Path(__file__).resolve().parents[2]
    for setting, started in (("1", True), ("0", False)):
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300,
            env={**os.environ, "FMNIST_WARM_UP": setting, "PYTHONPATH": str(root)},
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-1000:]
        assert ("fmnist-warm-up" in out.stdout) is started
