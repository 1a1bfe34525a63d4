"""Home: what the app is, and the dataset at a glance."""

import streamlit as st

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.data.fashion_mnist import class_counts
from fmnist_core.data.gallery import examples_per_class, tile, upscale
from fmnist_core.figures.dataset import class_balance_figure
from fmnist_core.ui.loaders import dataset_or_stop
from fmnist_core.ui.navigation import PAGES
from fmnist_core.ui.streamlit_patches import run_through_app

run_through_app()
st.title("Fashion-MNIST CNN Explorer")
st.markdown(
    "See what convolutional networks learn on **Fashion-MNIST** (70,000 small grayscale "
    "pictures of clothes in ten classes) and where they go wrong. Every model from five "
    "well-known tutorials, trained and ready, side by side."
)
for page in PAGES:
    st.markdown(f"- **{page.title}**: {page.summary}")

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
