"""Predict: draw, upload or pick an image and see every model's answer."""

import numpy as np
import streamlit as st

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.data.gallery import image_digest
from fmnist_core.data.preprocess import decode_image
from fmnist_core.ui import phone
from fmnist_core.ui.links import ViewLink, title_with_link
from fmnist_core.ui.loaders import dataset_or_stop
from fmnist_core.ui.streamlit_patches import run_through_app
from fmnist_core.ui.version_widgets import name_versions_in_use
from fmnist_core.ui.widgets import classify_and_show

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif"]

run_through_app()
phone.style(phone.PREDICT_CSS)  # on a phone the answer comes before the preprocessing steps
title_with_link("Predict")
st.markdown(
    "Give the models an image: draw one, upload photos, or pick one from the test set "
    "(a link to a test image: `/predict?image=123`). "
    "You see how it becomes the 28x28 input the models were trained on, then what every "
    "model answers."
)
name_versions_in_use()

SOURCES = ["Draw", "Upload", "Test image"]
# a link opens a test image (/predict?image=123); without one the page opens ready to draw
link = ViewLink("predict")
linked = link.get("image", ViewLink.whole_number(0, 9_999))
if linked is not None:
    st.session_state.update(source="Test image", test_index=linked)
link.say_what_was_ignored()
st.session_state.setdefault("source", "Draw")
source = st.segmented_control("Image source", SOURCES, key="source", required=True)
if source != "Test image":
    link.keep(image=None)  # a drawing or an upload stays in this session
invert_col, fill_col = st.columns(2)
invert_choice = invert_col.segmented_control(
    "Invert colours",
    ["Auto", "Yes", "No"],
    default="Auto",
    key="invert",
    help="Fashion-MNIST shows a light item on black. Auto inverts pictures with a light background.",
)
invert = {"Auto": None, "Yes": True, "No": False}.get(invert_choice)
fill_choice = fill_col.segmented_control(
    "Fill outlines",
    ["Auto", "Fill", "Don't fill"],
    default="Auto",
    key="fill",
    help="The models learned from solid items. Auto fills the closed outlines of a drawing "
    "(thin lines of one colour) into a silhouette; photos are never filled.",
)
fill = {"Auto": None, "Fill": True, "Don't fill": False}.get(fill_choice)


def draw() -> None:
    try:
        # imports only inside a running Streamlit app
        from streamlit_drawable_canvas import st_canvas
    except Exception as e:  # the component needs a running server
        st.info(f"The drawing canvas is not available here ({type(e).__name__}).")
        return
    left, right = st.columns([1, 2])
    with left:
        brush = st.slider("Brush size", 4, 40, 18)
        result = st_canvas(
            stroke_width=brush,
            stroke_color="#FFFFFF",
            background_color="#000000",
            height=280,
            width=280,
            drawing_mode="freedraw",
            return_image_data=True,
            key=f"canvas-{st.session_state.get('canvas_version', 0)}",
        )
        clear_col, classify_col = st.columns(2)
        if clear_col.button("Clear the drawing"):
            st.session_state["canvas_version"] = st.session_state.get("canvas_version", 0) + 1
            for key in ("classified_drawing", "drawing", "drawing_png", "drawing_digest"):
                st.session_state.pop(key, None)
            st.rerun()
        if classify_col.button("Classify", type="primary"):
            # The canvas may hand over the last stroke in the run after the click: answer the
            # drawing in this run and in the next one.
            st.session_state["classify_runs"] = 2
            st.session_state["classify_clicks"] = st.session_state.get("classify_clicks", 0) + 1
        live = st.toggle("Live: answer after every stroke", key="live")
    # The canvas hands its picture over once per stroke, not on runs that other widgets start
    # (the Classify button among them): keep the latest one.
    if result is not None:
        keep_drawing(result.image_bytes)
    with right:
        pixels = st.session_state.get("drawing")
        if pixels is None or pixels.max() < 30:
            st.info(
                "Draw a whole piece of clothing in light ink, as an outline or filled in, "
                "then press **Classify**. For a top, draw its collar, buttons or zip too: "
                "they tell a shirt from a coat or a pullover."
            )
            return
        # answer a finished drawing only: half a drawing gets confident, wrong labels
        drawing = st.session_state["drawing_digest"]
        pending = st.session_state.get("classify_runs", 0)
        if pending or live:
            st.session_state["classified_drawing"] = drawing
            st.session_state["classify_runs"] = max(0, pending - 1)
        if st.session_state.get("classified_drawing") != drawing:
            st.info("Press **Classify** when your drawing is finished.")
            return
        # after a click the answer is scrolled into view (on a phone it is below the canvas)
        clicked = (st.session_state.get("classify_clicks"), drawing) if pending else None
        classify_and_show(pixels, "Your drawing", invert, fill=fill, digest=drawing,
                          key="pred_drawing", scroll=clicked)  # fmt: skip


def keep_drawing(png: bytes | None) -> None:
    """The canvas's picture as RGB pixels and their digest, decoded only when it changed: the
    canvas sends its PNG with every run, and decoding it twice per run was a thirtieth of a
    busy server's CPU."""
    if png is None or png == st.session_state.get("drawing_png"):
        return
    pixels = np.asarray(decode_image(png).convert("RGB"))
    st.session_state.update(drawing_png=png, drawing=pixels, drawing_digest=image_digest(pixels))


def upload() -> None:
    files = st.file_uploader(
        "Upload one or several images", type=UPLOAD_TYPES, accept_multiple_files=True
    )
    if not files:
        st.info("PNG, JPEG, WebP, BMP, TIFF or GIF; a single item per picture works best.")
        return
    for i, f in enumerate(files):
        classify_and_show(f.getvalue(), f.name, invert, fill=fill, key=f"pred_upload_{i}")


def test_image() -> None:
    ds = dataset_or_stop()
    left, right = st.columns([1, 3])
    with left:
        if st.button("Random test image"):
            st.session_state["test_index"] = int(np.random.default_rng().integers(len(ds.x_test)))
        index = st.number_input("Test image index", 0, len(ds.x_test) - 1, key="test_index", step=1)
    link.keep(image=index)  # the link reopens this image
    true_label = int(ds.y_test[index])
    with right:
        classify_and_show(
            ds.x_test[index],
            f"Test image {index}: {CLASS_NAMES[true_label]}",
            invert,
            true_label,
            fill=fill,
            user_picture=False,
            key="pred_test_image",
        )


{"Draw": draw, "Upload": upload, "Test image": test_image}.get(source, test_image)()
