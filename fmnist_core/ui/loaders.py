"""Cached loaders shared by every session: the dataset, the models in use, their stored
results, embeddings; each stops the page with a clear message when it cannot load."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from fmnist_core.analysis.embeddings import (
    METHOD_LABELS,
    Embedding,
    EmbedRequest,
    cache_key,
    compute_features,
    embed,
    images_for,
    load_cached_embedding,
    nearest_neighbours,
    place_point,
    source_fingerprint,
    subset_indices,
)
from fmnist_core.analysis.predict import (
    Predictor,
)
from fmnist_core.analysis.results import ModelResults
from fmnist_core.analysis.tradeoffs import predict_latency_ms
from fmnist_core.contracts import ProgressEvent
from fmnist_core.data.fashion_mnist import HOW_TO_GET, Dataset, load_dataset
from fmnist_core.data.gallery import image_digest
from fmnist_core.errors import DatasetError
from fmnist_core.models import list_models
from fmnist_core.ui.identity import remember_runs, remembered_runs
from fmnist_core.versions import (
    Artifact,
    ArtifactError,
    available_artifacts,
    get_version,
    list_versions,
    state_signature,
    trained_artifact,
)
from fmnist_core.versions.catalog import catalog_row, model_catalog


@st.cache_resource(show_spinner=False)
def _dataset(data_dir: str | None) -> Dataset:
    # cache_resource, not cache_data: the arrays are shared, never copied per rerun.
    # Keyed on FMNIST_DATA_DIR so pointing the server elsewhere loads the new data.
    return load_dataset(data_dir)


_LOADED: dict[str | None, Dataset] = {}  # once loaded, no spinner (one slows every answer)


def dataset_or_stop() -> Dataset:
    """The dataset, or a clear message with how to get it and the page stops there."""
    where = os.environ.get("FMNIST_DATA_DIR") or None
    if where in _LOADED:
        return _LOADED[where]
    try:
        with st.spinner("Loading Fashion-MNIST (the first time it may download about 30 MB)..."):
            _LOADED[where] = _dataset(where)
            return _LOADED[where]
    except DatasetError as e:
        st.error("**The Fashion-MNIST dataset is not available.**")
        st.markdown(str(e).replace(HOW_TO_GET, "").strip())
        st.info(HOW_TO_GET)
        st.stop()
        raise  # st.stop() raises; this line only satisfies type checkers


def dataset_or_none() -> Dataset | None:
    """The dataset, or None where it is not available: for a page that works without it
    (dataset_or_stop says how to get it)."""
    try:
        where = os.environ.get("FMNIST_DATA_DIR") or None
        if where not in _LOADED:
            with st.spinner("Loading Fashion-MNIST..."):
                _LOADED[where] = _dataset(where)
        return _LOADED[where]
    except DatasetError:
        return None


@st.cache_resource(show_spinner=False, max_entries=6)
def _predictor(signature: tuple, _artifacts: tuple[Artifact, ...]) -> Predictor:
    """The loaded models of one set of versions: the class's, or a student's with their own
    runs in place (a few at a time: each holds every model)."""
    return Predictor(list(_artifacts))


class _Latest:
    """A cached loader's value for the last signature asked for, held in front of its
    st.cache_resource: Streamlit hashes a cached function's arguments on every call (a share
    of every Predict rerun's CPU that counts when a classroom uses the app at once), while
    comparing a tuple with the last one is nearly free. Threads swap one (key, value) pair."""

    def __init__(self) -> None:
        self._held: tuple = (object(), None)

    def get(self, key: tuple, load: Callable[[tuple], Any]) -> Any:
        held_key, value = self._held
        if held_key != key:
            value = load(key)
            self._held = (key, value)
        return value


_LATEST_ARTIFACTS = _Latest()
_LATEST_PREDICTOR = _Latest()


MY_RUNS = "my_runs"  # session state: {model: version} this person uses in their session only


def current_artifacts() -> tuple[list[Artifact], dict[str, str]]:
    """available_artifacts(), read again only when a version may have changed: a few stat
    calls per rerun instead of reading every manifest, which takes a large share of a Predict
    rerun's CPU when a classroom uses the app at once. With the person's own runs in place of
    the class's versions where they chose "Use my run in my session"."""
    signature = state_signature(list_models())
    artifacts, problems = _LATEST_ARTIFACTS.get(signature, _artifacts_for)
    mine = my_runs()
    if not mine:
        return artifacts, problems
    return _with_my_runs(signature, tuple(sorted(mine.items())), artifacts), problems


def _with_my_runs(
    signature: tuple, mine: tuple[tuple[str, str], ...], artifacts: list[Artifact]
) -> list[Artifact]:
    out = list(artifacts)
    for name, version in mine:
        try:
            art = _version_for(signature, name, version)
        except ArtifactError:  # deleted since (by its owner or the teacher): back to the class's
            use_in_my_session(name, None)
            st.toast(f"Your run of {name} is gone; this page shows the class's version again.")
            continue
        out = [art if a.name == name else a for a in out]
        if all(a.name != name for a in out):
            out.append(art)
    return out


@st.cache_resource(show_spinner=False, max_entries=64)
def _version_for(signature: tuple, name: str, version: str) -> Artifact:
    return get_version(name, version)


def use_in_my_session(name: str, version: str | None) -> None:
    """Show `version` of `name` on this person's pages only (None: the class's version)."""
    mine = dict(st.session_state.get(MY_RUNS) or {})
    if version is None:
        mine.pop(name, None)
    else:
        mine[name] = version
    st.session_state[MY_RUNS] = mine
    remember_runs(mine)  # a reload or a new tab keeps the choice


def my_runs() -> dict[str, str]:
    """The versions this person chose for their own pages (kept in the browser's cookie)."""
    if MY_RUNS not in st.session_state:
        known = set(list_models())  # a cookie is the browser's: only registry names count
        st.session_state[MY_RUNS] = {n: v for n, v in remembered_runs().items() if n in known}
    return dict(st.session_state[MY_RUNS])


@st.cache_resource(show_spinner=False, max_entries=4)
def _artifacts_for(signature: tuple) -> tuple[list[Artifact], dict[str, str]]:
    return available_artifacts()


def artifacts_or_stop() -> list:
    """The trained or shipped models; a warning per damaged one; the page stops if none."""
    artifacts, problems = current_artifacts()
    for name, problem in problems.items():
        st.warning(f"**{name}** is damaged and was skipped: {problem}")
    if not artifacts:
        st.error("No trained model is available. Train one: `python -m fmnist_core train cnn1`.")
        st.stop()
    return artifacts


@st.cache_resource(show_spinner=False, max_entries=2)
def _latencies(signature: tuple, _predictor: Predictor) -> dict[str, float]:
    return {name: predict_latency_ms(model) for name, model in _predictor.models.items()}


def predict_latencies() -> dict[str, float]:
    """Each loaded model's median one-image Predict time (ms), measured once per server and
    set of versions."""
    predictor = predictor_or_stop()
    signature = tuple(sorted((n, id(m)) for n, m in predictor.models.items()))
    with st.spinner("Timing every model on one image (once per server)..."):
        return _latencies(signature, predictor)


# Number formats shared by every table of models (Models page, leaderboard).


def predictor_or_stop() -> Predictor:
    """Every available model, loaded once per server; reloaded when a model is (re)trained."""
    artifacts = artifacts_or_stop()
    signature = tuple((a.name, str(a.path), a.manifest.get("created_utc")) for a in artifacts)

    def load(key: tuple) -> Predictor:
        with st.spinner("Loading the models (once per server, and once for a run of your own)..."):
            return _predictor(key, tuple(artifacts))

    predictor = _LATEST_PREDICTOR.get(signature, load)
    for name, problem in predictor.problems.items():  # left out: say so, never silently
        st.warning(f"**{name}** could not be loaded and is left out: {problem}")
    return predictor


@st.cache_resource(show_spinner=False, max_entries=64)
def _results(ref: str, path: str, created: str | None) -> ModelResults:
    art = trained_artifact(ref)
    return ModelResults.from_artifact(art, dataset_or_stop().y_test)


def trained_results(with_versions: bool = False) -> dict[str, ModelResults]:
    """Stored test-set results of every model's active version, keyed by name, loaded once
    per version; `with_versions`: every other version too, keyed 'name@version'."""
    dataset_or_stop()  # the results are scored against it: without it, say how to get it
    artifacts = artifacts_or_stop()
    out = {}
    for art in artifacts:
        try:
            out[art.name] = _results(art.ref, str(art.path), art.manifest.get("created_utc"))
        except (ArtifactError, ValueError) as e:
            st.warning(f"**{art.name}**: {e}")
    if with_versions:
        mine = my_runs()
        shown = {str(a.path) for a in artifacts}
        others = dict(other_versions())
        if mine:  # the class's versions of those models, beside this person's own runs
            class_versions = _LATEST_ARTIFACTS.get(state_signature(list_models()), _artifacts_for)
            others.update({a.ref: a for a in class_versions[0] if a.name in mine})
        for ref, art in others.items():
            if str(art.path) in shown:
                continue  # already shown under its model's name (this person's own run)
            try:
                out[ref] = _results(ref, str(art.path), art.manifest.get("created_utc"))
            except (ArtifactError, ValueError):
                continue  # the Models page reports damaged versions
    return out


def other_versions() -> dict[str, Artifact]:
    """Every readable version that is not its model's active one, by 'name@version'; read
    again only when a version may have changed (see current_artifacts)."""
    return _other_versions_for(state_signature(list_models()))


def catalog_rows() -> list[dict]:
    """model_catalog(), read again only when a version may have changed: for the pages that
    show it on every rerun (Compare). The Models page reads it fresh, damage included."""
    rows = _catalog_for(state_signature(list_models()))
    mine = my_runs()
    if not mine:
        return rows
    own = {a.name: a for a in current_artifacts()[0] if a.name in mine}
    return [catalog_row(r["name"], "trained", own[r["name"]]) if r["name"] in own else r
            for r in rows]  # fmt: skip


@st.cache_resource(show_spinner=False, max_entries=4)
def _catalog_for(signature: tuple) -> list[dict]:
    return model_catalog()


@st.cache_resource(show_spinner=False, max_entries=4)
def _other_versions_for(signature: tuple) -> dict[str, Artifact]:
    out = {}
    for name in list_models():
        for v in list_versions(name):
            if not v.active and v.artifact is not None:
                out[v.ref] = v.artifact
    return out


class _NotOnDisk(Exception):
    """Raised, not returned, so that Streamlit does not cache the miss."""


@st.cache_resource(show_spinner=False, max_entries=16)
def _loaded_embedding(key: str, request: EmbedRequest) -> Embedding:
    found = load_cached_embedding(request, key)
    if found is None:
        raise _NotOnDisk
    return found


def cached_embedding(request: EmbedRequest) -> Embedding | None:
    """The embedding if it is on disk (user cache or shipped), held in memory once loaded."""
    try:
        return _loaded_embedding(cache_key(request), request)
    except _NotOnDisk:
        return None


def compute_embedding_with_progress(request: EmbedRequest) -> Embedding:
    label = METHOD_LABELS[request.method]
    bar = st.progress(0.0, text=f"{label}: starting")

    def report(event: ProgressEvent) -> None:
        fraction, message = event.get("fraction", 0.0), event.get("message", "")
        bar.progress(min(max(fraction, 0.0), 1.0), text=f"{label}: {message}")

    emb = embed(request, progress=report, dataset=dataset_or_stop())
    bar.empty()
    return emb


def embedding_features(request: EmbedRequest) -> np.ndarray:
    """The features behind an embedding, for neighbour search and placing new points; cached
    per model version (the fingerprint changes when the model is retrained)."""
    return _embedding_features(
        request.source, source_fingerprint(request.source), request.n, request.seed
    )


def placed_image(
    request: EmbedRequest, emb: Embedding, image: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where an image (the Predict page's) lands on this embedding, and its 8 nearest test
    images: computed once per image, view and model version, not on every rerun."""
    return _placed(request, source_fingerprint(request.source), image_digest(image), emb, image)


@st.cache_resource(show_spinner=False, max_entries=16)
def _placed(request, fingerprint: str, digest: str, _emb: Embedding, _image: np.ndarray):
    features = embedding_features(request)
    own = compute_features(request.source, _image[None])[0][0]
    return place_point(_emb, features, own), nearest_neighbours(features, own, 8)


@st.cache_resource(show_spinner="Computing features for the neighbour search...", max_entries=4)
def _embedding_features(source: str, fingerprint: str, n: int, seed: int) -> np.ndarray:
    ds = dataset_or_stop()
    images, _ = images_for(subset_indices(ds.y_test, n, seed), ds, n)
    return compute_features(source, images)[0]
