"""The Embeddings page's form and its link: a view (EmbedRequest) as the form's widgets and
as the address's parameters, and back.

/embeddings?source=cnn4&method=umap&size=5000&dims=2&neighbours=15&min_dist=0.1
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from fmnist_core.analysis.embeddings import (
    ALL_IMAGES,
    DEFAULT_PARAMS,
    METHOD_LABELS,
    EmbeddingError,
    EmbedRequest,
    make_request,
)
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.ui.links import LinkValueError, ViewLink
from fmnist_core.ui.version_widgets import model_label

METHOD_NAMES = {label: method for method, label in METHOD_LABELS.items()}
SIZES = [1000, 2000, 5000, 10000, ALL_IMAGES]
LEARNING_RATES = ["auto", 10, 50, 100, 200, 500, 1000]
DEFAULT_REQUEST = make_request("pixels", "umap", 5000, 2)

# each method's settings: (name in the request, name in the link, widget key, parser)
SETTINGS = {
    "tsne": [
        ("perplexity", "perplexity", "embed_perplexity", ViewLink.whole_number(5, 100)),
        ("learning_rate", "learning_rate", "embed_lr", ViewLink.one_of(map(str, LEARNING_RATES))),
    ],
    "umap": [
        ("n_neighbors", "neighbours", "embed_neighbours", ViewLink.whole_number(2, 100)),
        ("min_dist", "min_dist", "embed_min_dist", ViewLink.number(0.0, 0.99)),
    ],
    "custom": [
        ("class_a", "from", "embed_class_a", ViewLink.class_name),
        ("class_b", "to", "embed_class_b", ViewLink.class_name),
    ],
}


def form_state(request: EmbedRequest) -> dict[str, Any]:
    """The form's widget values that ask for `request` (settings of other methods at their
    defaults)."""
    state = {
        "embed_source": request.source,
        "embed_method": METHOD_LABELS[request.method],
        "embed_n": request.n,
        "embed_dims": f"{request.dims}D",
    }
    for method, settings in SETTINGS.items():
        values = request.settings() if method == request.method else DEFAULT_PARAMS[method]
        for name, _, key, _ in settings:
            state[key] = _widget_value(name, values[name])
    return state


def _widget_value(name: str, value: Any) -> Any:
    if name in ("class_a", "class_b"):
        return CLASS_NAMES[int(value)]
    if name == "perplexity":
        return int(value)
    if name == "learning_rate":
        return value if value == "auto" else int(value)
    return value


def request_from_form(state: dict) -> EmbedRequest:
    """The request the form's widgets ask for (EmbeddingError if it cannot be computed)."""
    method = METHOD_NAMES[state["embed_method"]]
    params = {
        "pca": {},
        "tsne": {
            "perplexity": float(state["embed_perplexity"]),
            "learning_rate": state["embed_lr"],
        },
        "umap": {"n_neighbors": state["embed_neighbours"], "min_dist": state["embed_min_dist"]},
        "custom": {
            "class_a": CLASS_NAMES.index(state["embed_class_a"]),
            "class_b": CLASS_NAMES.index(state["embed_class_b"]),
        },
    }[method]
    dims = 3 if state["embed_dims"] == "3D" else 2
    return make_request(state["embed_source"], method, state["embed_n"], dims, **params)


def request_from_link(
    link: ViewLink, sources: list[str], aliases: dict[str, str]
) -> EmbedRequest | None:
    """The view a just-opened link asks for, on top of the default one; None without one."""
    asked = ("source", "method", "size", "dims")
    if not link.entered or not any(p in st.query_params for p in asked):
        return None
    state = form_state(DEFAULT_REQUEST)
    got = {
        "embed_source": link.get("source", ViewLink.model(sources, aliases)),
        "embed_method": link.get("method", _method),
        "embed_n": link.get("size", ViewLink.one_of(map(str, SIZES))),
        "embed_dims": link.get("dims", ViewLink.one_of(["2", "3", "2d", "3d"])),
    }
    if got["embed_n"] is not None:
        got["embed_n"] = int(got["embed_n"])
    if got["embed_dims"] is not None:
        got["embed_dims"] = got["embed_dims"][0] + "D"
    state.update({k: v for k, v in got.items() if v is not None})
    for name, param, key, parse in SETTINGS.get(METHOD_NAMES[state["embed_method"]], []):
        value = link.get(param, parse)
        if value is not None:
            state[key] = _widget_value(name, value)
    try:
        return request_from_form(state)
    except EmbeddingError as e:
        link.ignored.append(f"view ({e})")
        return None


def _method(text: str) -> str:
    by_name = {m: label for m, label in METHOD_LABELS.items()}
    by_name.update({label.lower(): label for label in METHOD_LABELS.values()})
    found = by_name.get(text.strip().lower())
    if found is None:
        raise LinkValueError("one of " + ", ".join(METHOD_LABELS))
    return found


def link_params(request: EmbedRequest) -> dict[str, Any]:
    """The address's parameters for the view on screen (every setting of its method)."""
    settings = request.settings()
    params: dict[str, Any] = {
        "source": request.source,
        "method": request.method,
        "size": request.n,
        "dims": request.dims,
    }
    every = {param for method in SETTINGS.values() for _, param, _, _ in method}
    params.update(dict.fromkeys(every))  # the other methods' settings leave the link
    for name, param, _, _ in SETTINGS.get(request.method, []):
        params[param] = _widget_value(name, settings[name])  # as the form shows it
    return params


def embedding_form(sources: list[str]) -> bool:
    """The form; True when Run was pressed (the widgets' values are in st.session_state)."""
    with st.form("embed_form"):
        c1, c2, c3, c4 = st.columns([2, 2, 2, 1])
        c1.selectbox("Features", sources, key="embed_source",
                     help="Raw pixels, or a model's last hidden layer",
                     format_func=lambda r: "pixels" if r == "pixels" else model_label(r))  # fmt: skip
        c2.selectbox("Method", list(METHOD_NAMES), key="embed_method")
        c3.select_slider("Images", SIZES, key="embed_n",
                         help="A stratified subset of the test set; 70,000 = all images (PCA and UMAP)")  # fmt: skip
        c4.radio("View", ["2D", "3D"], horizontal=True, key="embed_dims")
        with st.expander("Method settings"):
            s1, s2, s3 = st.columns(3)
            s1.slider("t-SNE perplexity", 5, 100, key="embed_perplexity")
            s1.select_slider("t-SNE learning rate", LEARNING_RATES, key="embed_lr")
            s2.slider("UMAP neighbours", 2, 100, key="embed_neighbours")
            s2.slider("UMAP minimum distance", 0.0, 0.99, step=0.01, key="embed_min_dist")
            s3.selectbox("Custom axis: from class", CLASS_NAMES, key="embed_class_a")
            s3.selectbox("Custom axis: to class", CLASS_NAMES, key="embed_class_b")
        return st.form_submit_button("Run", type="primary")
