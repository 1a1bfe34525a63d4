"""Embeddings: the test images as a map, from raw pixels or from what a model learned."""

import numpy as np
import streamlit as st

from fmnist_core.analysis.embeddings import ALL_IMAGES, METHOD_LABELS, EmbeddingError
from fmnist_core.analysis.embeddings import nearest_neighbours as nearest
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.data.exports import images_zip, sample_across_classes
from fmnist_core.figures.embeddings import embedding_figure, variance_figure
from fmnist_core.ui.embedding_form import (
    DEFAULT_REQUEST,
    embedding_form,
    form_state,
    link_params,
    request_from_form,
    request_from_link,
)
from fmnist_core.ui.hover_images import hover_images
from fmnist_core.ui.links import ViewLink, title_with_link
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
from fmnist_core.ui.version_widgets import name_versions_in_use
from fmnist_core.ui.widgets import image_grid

SELECTION_PAGE = 80

run_through_app()
title_with_link("Embeddings")
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
# the view on screen: the link's (/embeddings?source=cnn4&method=umap&size=5000&dims=2...),
# else the last one run in this session, else the default; the form starts from it
link = ViewLink("embeddings")
linked = request_from_link(link, sources, {a.ref: a.name for a in artifacts})
link.say_what_was_ignored()
if linked is not None:
    st.session_state["embed_request"] = linked
    st.session_state.update(form_state(linked))
st.session_state.setdefault("embed_request", DEFAULT_REQUEST)
for key, value in form_state(st.session_state["embed_request"]).items():
    st.session_state.setdefault(key, value)  # widget values lost on leaving the page
if st.session_state["embed_source"] not in sources:  # a version gone since
    st.session_state["embed_source"] = "pixels"

run = embedding_form(sources)
if run:
    try:
        st.session_state["embed_request"] = request_from_form(st.session_state)
    except EmbeddingError as e:
        st.error(str(e))
        st.stop()

request = st.session_state["embed_request"]
link.keep(**link_params(request))
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
