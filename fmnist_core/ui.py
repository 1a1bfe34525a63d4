"""The only module that imports Streamlit: the page table, cached loaders and shared widgets."""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from fmnist_core.data import HOW_TO_GET, Dataset, load_dataset
from fmnist_core.errors import DatasetError


@dataclass(frozen=True)
class PageInfo:
    path: str
    title: str
    icon: str
    summary: str
    default: bool = False


# The app's table of contents: app.py builds the navigation from it, the home page describes it.
PAGES = [
    PageInfo(
        "pages/home.py",
        "Home",
        ":material/home:",
        "What the app is, and the dataset at a glance: examples of every class, the class "
        "balance, and where the data came from.",
        default=True,
    ),
    PageInfo(
        "pages/models.py",
        "Models",
        ":material/model_training:",
        "Every tutorial's CNN: its recipe, whether it is trained, its test accuracy beside the "
        "accuracy the tutorial reported.",
    ),
]


@st.cache_resource(show_spinner=False)
def _dataset(data_dir: str | None) -> Dataset:
    # cache_resource, not cache_data: the arrays are shared, never copied per rerun.
    # Keyed on FMNIST_DATA_DIR so pointing the server elsewhere loads the new data.
    return load_dataset(data_dir)


def dataset_or_stop() -> Dataset:
    """The dataset, or a clear message with how to get it and the page stops there."""
    try:
        with st.spinner("Loading Fashion-MNIST (the first time it may download about 30 MB)..."):
            return _dataset(os.environ.get("FMNIST_DATA_DIR") or None)
    except DatasetError as e:
        st.error("**The Fashion-MNIST dataset is not available.**")
        st.markdown(str(e).replace(HOW_TO_GET, "").strip())
        st.info(HOW_TO_GET)
        st.stop()
        raise  # st.stop() raises; this line only satisfies type checkers
