"""Home: four things to do, with a picture each, then the dataset at a glance."""

import streamlit as st

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.data.fashion_mnist import class_counts
from fmnist_core.data.gallery import examples_per_class, tile, upscale
from fmnist_core.data.showcase import (
    SIDE,
    confusion_picture,
    convolution_picture,
    drawing_picture,
    quiz_picture,
)
from fmnist_core.figures.dataset import class_balance_figure
from fmnist_core.ui.links import link_to
from fmnist_core.ui.loaders import dataset_or_none, dataset_or_stop
from fmnist_core.ui.navigation import PAGES
from fmnist_core.ui.streamlit_patches import run_through_app

INSIDE_IMAGE = 0  # the test image the "look inside" picture shows (an ankle boot)

run_through_app()
st.title("Fashion-MNIST CNN Explorer")
st.markdown(
    "What convolutional networks learn from 70,000 small pictures of clothes, and where "
    "they go wrong: every model from five well-known tutorials, trained and ready."
)

data = dataset_or_none()  # the actions work without it; only their pictures need it
ACTIONS = [
    ("pages/predict.py", "Draw a piece of clothing", ":material/draw:",
     "Every model answers your drawing.", drawing_picture, {}),
    ("pages/quiz.py", "Take the quiz", ":material/quiz:",
     "Label 20 images, then see how the CNNs did.",
     lambda: quiz_picture(data.x_test, data.y_test), {}),
    ("pages/confusion.py", "Where models go wrong", ":material/grid_on:",
     "Shirt or T-shirt? The images behind every mistake.",
     lambda: confusion_picture(data.x_test, data.y_test), {"true": "Shirt", "pred": "T-shirt/top"}),
    ("pages/inside.py", "Look inside a CNN", ":material/neurology:",
     "What each layer sees, and where it looked.",
     lambda: convolution_picture(data.x_test[INSIDE_IMAGE]), {"image": INSIDE_IMAGE}),
]  # fmt: skip
for col, (page, label, icon, line, picture, params) in zip(st.columns(len(ACTIONS)), ACTIONS):
    with col.container(border=True):
        if data is not None or page == "pages/predict.py":
            st.image(picture(), width=SIDE, output_format="PNG")  # no larger on a phone
        link_to(page, label, icon, **params)
        st.caption(line)

more = [p for p in PAGES if p.section and p.path not in {a[0] for a in ACTIONS}]
st.caption("Also here: " + ", ".join(f"**{p.title}**" for p in more) + " (in the sidebar).")

ds = dataset_or_stop()

st.header("The dataset at a glance")
cols = st.columns(4)
cols[0].metric("Training images", f"{len(ds.x_train):,}")
cols[1].metric("Test images", f"{len(ds.x_test):,}")
cols[2].metric("Classes", len(CLASS_NAMES))
cols[3].metric("Image size", "28 x 28, gray")

left, right = st.columns([2, 3])
with left:
    st.subheader("The first nine training images")
    grid = st.columns(3)
    for i in range(9):
        grid[i % 3].image(
            upscale(ds.x_train[i], 4),
            caption=f"{ds.y_train[i]}: {CLASS_NAMES[ds.y_train[i]]}",
            output_format="PNG",
        )
with right:
    st.plotly_chart(
        class_balance_figure(class_counts(ds.y_train), class_counts(ds.y_test)),
        width="stretch",
    )
    verified = (
        "matches the published dataset (checksums verified)"
        if ds.is_original
        else "differs from the published dataset"
    )
    st.markdown(
        f"**Source:** {ds.source.describe()}  \n"
        f"**Content:** {verified}  \n"
        f"**Loaded in:** {ds.load_seconds:.2f} s{' from the converted-array cache' if ds.from_cache else ''}"
    )

st.subheader("Ten examples of every class")
examples = examples_per_class(ds.y_train, 10)
halves = st.columns(2)
for c, name in enumerate(CLASS_NAMES):
    halves[c % 2].image(
        tile(ds.x_train[examples[c]], cols=10, scale=2), caption=f"{c}: {name}", output_format="PNG"
    )
