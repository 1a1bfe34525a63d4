"""Embeddings: the test images as a map, from raw pixels or from what a model learned."""

import numpy as np
import streamlit as st

from fmnist_core.analysis.embeddings import (
    ALL_IMAGES,
    METHOD_LABELS,
    EmbeddingError,
    make_request,
)
from fmnist_core.analysis.embeddings import nearest_neighbours as nearest
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.data.exports import images_zip, sample_across_classes
from fmnist_core.figures.embeddings import embedding_figure, variance_figure
from fmnist_core.ui.hover_images import hover_images
from fmnist_core.ui.loaders import (
    cached_embedding,
    compute_embedding_with_progress,
    current_artifacts,
    dataset_or_stop,
    embedding_features,
    my_runs,
    placed_image,
)
from fmnist_core.ui.streamlit_patches import run_through_app
from fmnist_core.ui.version_widgets import model_label, name_versions_in_use
from fmnist_core.ui.widgets import image_grid

METHOD_NAMES = {label: method for method, label in METHOD_LABELS.items()}
SELECTION_PAGE = 80

run_through_app()
st.title("Embeddings")
st.markdown(
    "Each dot is a test image, placed so that similar images sit close together. Choose what "
    "to compare (raw pixels, or the features a model learned), the method and its settings, "
    "then **Run**. Views computed once are kept and open instantly."
)

ds = dataset_or_stop()
artifacts = current_artifacts()[0]
name_versions_in_use(artifacts)
mine = my_runs()
# a model's name means the class's version; the person's own choice goes by its ref (name@id)
models = [a.ref if a.name in mine else a.name for a in artifacts]
sources = ["pixels", *models]
if "embed_request" not in st.session_state:
    st.session_state["embed_request"] = make_request("pixels", "umap", 5000, 2)

with st.form("embed_form"):
    c1, c2, c3, c4 = st.columns([2, 2, 2, 1])
    source = c1.selectbox("Features", sources, help="Raw pixels, or a model's last hidden layer",
                          format_func=lambda r: "pixels" if r == "pixels" else model_label(r))  # fmt: skip
    method_label = c2.selectbox("Method", list(METHOD_NAMES), index=2)
    n = c3.select_slider("Images", [1000, 2000, 5000, 10000, ALL_IMAGES], value=5000,
                         help="A stratified subset of the test set; 70,000 = all images (PCA and UMAP)")  # fmt: skip
    dims = 3 if c4.radio("View", ["2D", "3D"], horizontal=True) == "3D" else 2
    with st.expander("Method settings"):
        s1, s2, s3 = st.columns(3)
        perplexity = s1.slider("t-SNE perplexity", 5, 100, 30)
        learning_rate = s1.select_slider(
            "t-SNE learning rate", ["auto", 10, 50, 100, 200, 500, 1000], "auto"
        )
        n_neighbors = s2.slider("UMAP neighbours", 2, 100, 15)
        min_dist = s2.slider("UMAP minimum distance", 0.0, 0.99, 0.1, 0.01)
        class_a = s3.selectbox("Custom axis: from class", CLASS_NAMES, index=6)
        class_b = s3.selectbox("Custom axis: to class", CLASS_NAMES, index=0)
    run = st.form_submit_button("Run", type="primary")

if run:
    method = METHOD_NAMES[method_label]
    params = {
        "pca": {},
        "tsne": {"perplexity": float(perplexity), "learning_rate": learning_rate},
        "umap": {"n_neighbors": n_neighbors, "min_dist": min_dist},
        "custom": {"class_a": CLASS_NAMES.index(class_a), "class_b": CLASS_NAMES.index(class_b)},
    }[method]
    try:
        st.session_state["embed_request"] = make_request(source, method, n, dims, **params)
    except EmbeddingError as e:
        st.error(str(e))
        st.stop()

request = st.session_state["embed_request"]
emb = cached_embedding(request)
if emb is None:
    if not run:
        st.info("This view is not computed yet: press **Run**.")
        st.stop()
    emb = compute_embedding_with_progress(request)

took = emb.info.get("seconds")
st.caption(
    f"{METHOD_LABELS[request.method]} of {len(emb.coords):,} images from **{request.source}**, "
    f"{request.dims}D"
    + (
        " (from the cache" + (f", computed in {took:.1f} s)" if took else ")")
        if emb.from_cache
        else f", computed in {took:.1f} s"
    )
)

color_options = ["true class"]
if emb.predicted is not None:
    color_options += ["predicted class", "right / wrong", "confidence"]
left, right = st.columns([3, 2])
color_by = left.segmented_control(
    "Colour by", color_options, default="true class", key="embed_color"
)

images = ds.x_test[emb.indices] if request.n != ALL_IMAGES else None  # thumbnails: test set

placed, placed_near = None, None
mine = st.session_state.get("last_prediction_image")
if mine is not None and right.toggle("Show my image from the Predict page", key="embed_place"):
    if request.method == "tsne":
        right.info(
            "t-SNE cannot place new points: its map exists only for the images it was fitted on. Use PCA or UMAP."
        )
    else:
        placed, placed_near = placed_image(request, emb, mine)

fig = embedding_figure(emb.coords, emb.labels, color_by or "true class", emb.predicted, emb.confidence,
                       emb.indices, placed=placed)  # fmt: skip
if images is not None:
    hover_images(images, key="embed_hover")  # the image under the mouse, next to it
event = st.plotly_chart(
    fig, on_select="rerun", selection_mode=("points", "box", "lasso"), key="embed_chart",
    config={"scrollZoom": True},
)  # fmt: skip
st.caption(
    "Hover a dot to see its image and class; click the legend to hide a class, double-click to isolate it. "
    + (
        "Lasso or box-select dots to see their images; click one dot for its nearest neighbours."
        if request.dims == 2
        else "Rotate with the mouse; selecting works in 2D."
    )
)

if placed_near is not None and images is not None:
    st.markdown("**Your image's nearest neighbours** (in the original feature space)")
    image_grid(
        placed_near,
        images,
        [f"#{emb.indices[r]} {CLASS_NAMES[emb.labels[r]]}" for r in placed_near],
    )

rows = [
    p["customdata"][0] for p in (event.selection.points if event else []) if p.get("customdata")
]
if rows and images is not None:
    rows = np.asarray(rows)
    if len(rows) == 1:
        r = rows[0]
        st.markdown(
            f"**Test image #{emb.indices[r]}**, a {CLASS_NAMES[emb.labels[r]]}, and its nearest neighbours in the original feature space"
        )
        feats = embedding_features(request)
        near = nearest(feats, feats[r], 9)
        image_grid(near, images, [f"#{emb.indices[k]} {CLASS_NAMES[emb.labels[k]]}" for k in near])
    else:
        # a sample across every class in the selection, not its first rows (which follow
        # the order of the classes), in pages
        ordered = sample_across_classes(rows, emb.labels[rows])
        present = len(np.unique(emb.labels[rows]))
        pages = (len(ordered) - 1) // SELECTION_PAGE + 1
        page = 1
        head, pick, zip_col = st.columns([3, 1, 1])
        if pages > 1:
            page = pick.number_input(f"Page (of {pages})", 1, pages, 1, key="embed_sel_page")
        head.markdown(
            f"**{len(rows)} selected images** from {present} "
            f"{'class' if present == 1 else 'classes'}"
            + (f", mixed across the classes, {SELECTION_PAGE} a page" if pages > 1 else "")
        )
        shown = ordered[(page - 1) * SELECTION_PAGE : page * SELECTION_PAGE]
        image_grid(
            shown, images, [f"#{emb.indices[k]} {CLASS_NAMES[emb.labels[k]]}" for k in shown]
        )
        test_idx = emb.indices[ordered]
        zip_col.download_button(
            "Images (ZIP)",
            lambda: images_zip(test_idx, ds.x_test, ds.y_test),
            f"selection-{len(rows)}-images.zip",
            "application/zip",
            help="Every selected image as a PNG, with a CSV of its index and class.",
        )

if request.method == "pca" and "explained_variance_ratio" in emb.info:
    st.plotly_chart(variance_figure(emb.info["explained_variance_ratio"]), width="stretch")

st.download_button(
    "Coordinates with labels and predictions (CSV)",
    emb.to_csv(),
    f"embedding-{request.source}-{request.method}-{request.n}-{request.dims}d.csv",
    "text/csv",
)
