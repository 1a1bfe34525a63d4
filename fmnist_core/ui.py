"""Streamlit helpers (with ui_hover_images.py, the only modules importing streamlit): the page
table, cached loaders and shared widgets."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

from fmnist_core.artifacts import Artifact, ArtifactError, available_artifacts, find_artifact
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.data import HOW_TO_GET, Dataset, load_dataset
from fmnist_core.embed import (
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
    warm_up_umap,
)
from fmnist_core.errors import DatasetError
from fmnist_core.figures import probabilities_figure
from fmnist_core.gallery import thumbnail, tile
from fmnist_core.models import display_name, list_models
from fmnist_core.predict import (
    Answer,
    Predictor,
    consensus,
    headline,
    models_disagree,
)
from fmnist_core.preprocess import Preprocessed, PreprocessError, preprocess
from fmnist_core.results import ModelResults
from fmnist_core.versions import (
    SHIPPED,
    activate,
    delete_version,
    is_own,
    list_versions,
    recipe_changes,
    split_ref,
    started_by,
    state_signature,
    version_label,
)

log = logging.getLogger(__name__)


def _keep_keras_state_between_runs() -> None:
    """Stop Streamlit from calling keras.backend.clear_session() after every script run.

    Streamlit does that whenever keras is imported, to free models that scripts rebuild on
    each run. Ours are loaded once per server (cache_resource) and shared by all sessions, so
    it frees nothing; it cost about 0.3 s of every run of every page and dropped TensorFlow's
    kernel cache, which made the next prediction slow, and it resets global Keras state while
    other sessions' threads may be predicting. Matplotlib's cleanup, the other half, stays.
    """
    from streamlit.runtime.scriptrunner import script_runner

    def clean_problem_modules_except_keras() -> None:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            plt.close("all")

    script_runner._clean_problem_modules = clean_problem_modules_except_keras


_keep_keras_state_between_runs()


WARM_UP_DELAY = 3.0  # seconds after the server's first page, so that page is not slowed


def _warm_up_in_the_background() -> None:
    """Once per server process: compile UMAP's numba code in a low-priority thread, so the
    first UMAP view takes seconds, not 40 (FMNIST_WARM_UP=0 turns it off, as the tests do)."""
    if os.environ.get("FMNIST_WARM_UP", "1") == "0":
        return

    def warm() -> None:
        time.sleep(WARM_UP_DELAY)
        with contextlib.suppress(OSError, AttributeError):  # Linux: this thread only
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        try:
            seconds = warm_up_umap()
            log.info("UMAP warmed up in %.1f s", seconds)
        except Exception as e:  # never fatal: the first UMAP view then compiles it itself
            log.warning("UMAP warm-up failed (%s: %s)", type(e).__name__, e)

    threading.Thread(target=warm, name="fmnist-warm-up", daemon=True).start()


_warm_up_in_the_background()


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
    PageInfo(
        "pages/compare.py",
        "Compare models",
        ":material/leaderboard:",
        "A leaderboard against the tutorials' figures, learning curves, k-fold spread, "
        "per-class accuracy, and accuracy against model size.",
    ),
    PageInfo(
        "pages/confusion.py",
        "Confusion matrix",
        ":material/grid_on:",
        "Where a model goes wrong: click any cell to see the test images behind it; compare "
        "two models image by image.",
    ),
    PageInfo(
        "pages/embeddings.py",
        "Embeddings",
        ":material/scatter_plot:",
        "The test images as a map (PCA, t-SNE, UMAP or a custom axis, 2D or 3D) from raw pixels "
        "or what a model learned; select points to see their images.",
    ),
    PageInfo(
        "pages/train.py",
        "Train",
        ":material/exercise:",
        "Train any tutorial's model from the browser and watch it learn, live; the result "
        "appears on every page.",
    ),
    PageInfo(
        "pages/predict.py",
        "Predict",
        ":material/draw:",
        "Draw, upload or pick an image; see how it becomes the 28x28 input and what every "
        "model answers.",
    ),
]


def run_through_app() -> None:
    """Make a direct link to a page (/predict) go through app.py's navigation.

    Streamlit treats a `pages/` folder as an old-style multipage app until st.navigation has
    run once in the server process, so the very first visitor arriving on /predict would get
    the bare page script without the app's navigation and layout. Switch and rerun instead.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


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


# --------------------------------------------------------------------------- prediction


@st.cache_resource(show_spinner=False, max_entries=2)
def _predictor(signature: tuple) -> Predictor:
    artifacts, _ = available_artifacts()
    return Predictor(artifacts)


def current_artifacts() -> tuple[list[Artifact], dict[str, str]]:
    """available_artifacts(), read again only when a version may have changed (a few stat
    calls per rerun instead of reading eleven manifests: measured, a fifth of a Predict
    rerun's CPU under the 30-session load test)."""
    return _artifacts_for(state_signature(list_models()))


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


# Number formats shared by every table of models (Models page, leaderboard).
MODEL_TABLE_COLUMNS = {
    "Test accuracy": st.column_config.NumberColumn(format="%.2f%%"),
    "Tutorial reported": st.column_config.NumberColumn(format="%.2f%%"),
    "Difference (points)": st.column_config.NumberColumn(format="%+.2f"),
    "Test loss": st.column_config.NumberColumn(format="%.4f"),
    "Parameters": st.column_config.NumberColumn(format="localized"),
    "Training (s)": st.column_config.NumberColumn(format="%.0f"),
}


def predictor_or_stop() -> Predictor:
    """Every available model, loaded once per server; reloaded when a model is (re)trained."""
    artifacts = artifacts_or_stop()
    signature = tuple((a.name, str(a.path), a.manifest.get("created_utc")) for a in artifacts)
    with st.spinner("Loading the models (once per server)..."):
        predictor = _predictor(signature)
    for name, problem in predictor.problems.items():  # left out: say so, never silently
        st.warning(f"**{name}** could not be loaded and is left out: {problem}")
    return predictor


def show_steps(prep: Preprocessed) -> None:
    """The preprocessing path as a row of small images."""
    cols = st.columns(len(prep.steps))
    # six or more steps (a drawing that was filled) share the row instead of overflowing it
    width = "stretch" if len(prep.steps) >= 6 else 112
    for col, step in zip(cols, prep.steps):
        caption = step.name + (f" ({step.note})" if step.note else "")
        col.image(thumbnail(step.image), caption=caption, output_format="PNG", width=width)


def show_answers(
    answers: dict[str, Answer], true_label: int | None = None, user_picture: bool = False
) -> None:
    """The headline answer (the robust model's) with how many others agree, a top-3 table per
    model, and the all-class bar chart. `user_picture`: drawn or uploaded, not a test image."""
    truth = f" The true class is **{CLASS_NAMES[true_label]}**." if true_label is not None else ""
    head = headline(answers)
    if head.model is not None:
        text = (
            f"**The {head.model} model says {head.class_name}**; {head.agree} of "
            f"{head.others} tutorial models agree.{truth}"
        )
        if answers[head.model].readings == 2:
            text += (
                " It learned outlines as well as solid items, so it read your drawing both "
                "filled and as drawn, and gives the mean."
            )
        (st.success if head.agree * 2 > head.others else st.warning)(text)
        if user_picture:
            why_tutorial_models_fail(expanded=head.agree * 2 <= head.others)
    else:
        winner, votes = consensus(answers)
        if models_disagree(answers):
            st.warning(
                f"**The models disagree**: {votes} of {len(answers)} say **{winner}**.{truth}"
            )
        else:
            st.success(f"All {len(answers)} models say **{winner}**.{truth}")
    rows = []
    # the headline model first, then the tutorials' in registry order
    ordered = sorted(answers.values(), key=lambda a: a.name != head.model)
    for a in ordered:
        top = a.top(3)
        row = {"Model": a.name}
        if true_label is not None:
            row["Right?"] = "yes" if a.label == true_label else "no"
        for k, (cls, p) in enumerate(top, 1):
            row[f"#{k}"] = f"{cls} {p:.1%}"
        row["Time (ms)"] = round(a.seconds * 1000, 1)
        rows.append(row)
    st.dataframe(rows, hide_index=True, width="stretch")
    st.plotly_chart(
        probabilities_figure({n: a.probabilities for n, a in answers.items()}), width="stretch"
    )


@st.cache_resource(show_spinner=False)
def _styled_training_strip() -> bytes:
    """Eight training images, each followed by three styled copies, as one PNG (made once per
    server: encoding it on every answer cost the 20-session load test)."""
    import io

    from PIL import Image

    from fmnist_core.augment import styled_examples

    ds = dataset_or_stop()
    picks = np.array([int(np.flatnonzero(ds.y_train == c)[0]) for c in (0, 1, 3, 5, 7, 8, 9, 2)])
    originals = ds.x_train[picks]
    copies = 3
    styled = styled_examples(originals, seed=3, copies=copies)
    strip = [
        image
        for i, original in enumerate(originals)
        for image in (original, *styled[i * copies : (i + 1) * copies])
    ]
    buf = io.BytesIO()
    Image.fromarray(tile(np.stack(strip), cols=2 * (copies + 1), scale=3)).save(buf, "PNG")
    return buf.getvalue()


def why_tutorial_models_fail(expanded: bool = False) -> None:
    """The lesson in plain words, with training images as the robust model saw them."""
    with st.expander("Why do the tutorial models get drawings wrong?", expanded=expanded):
        st.markdown(
            "The tutorial models only ever saw **product photos**: a solid, shaded item in side "
            "profile. A drawing made of lines, a flat icon or a shoe seen from the front is "
            "something they never met, so they guess; a closed outline often looks to them "
            "like a bag. The **robust** model learned from the same training photos, and from "
            "each of them drawn as an outline, filled in as a silhouette, flat-shaded, turned, "
            "mirrored, thicker or thinner, like these:"
        )
        st.image(
            _styled_training_strip(),
            caption="Each product photo (first of four) and three ways the robust model saw it",
        )


def classify_and_show(
    source,
    title: str,
    invert: bool | None,
    true_label: int | None = None,
    fill: bool | None = None,
    user_picture: bool = True,
) -> None:
    """Preprocess one image, show its steps and every model's answer; bad input is one sentence."""
    st.subheader(title)
    predictor = predictor_or_stop()
    # The same picture with the same settings and models is answered once per session: every
    # rerun (another widget, a return to the Draw tab) shows the kept answer again.
    key = (_digest(source), invert, fill, id(predictor))
    kept = st.session_state.setdefault("_answers", {})
    if key in kept:
        prep, answers = kept[key]
    else:
        try:
            prep = preprocess(source, invert=invert, fill=fill)
        except PreprocessError as e:
            st.error(f"{title}: {e}")
            return
        answers = predictor(prep.image, prep.as_drawn)
        # kept with its steps as the thumbnails shown, not a photo's full-size copies
        prep = replace(prep, steps=[replace(st_, image=thumbnail(st_.image)) for st_ in prep.steps])
        while len(kept) >= KEPT_ANSWERS:
            kept.pop(next(iter(kept)))
        kept[key] = (prep, answers)
    show_steps(prep)
    st.session_state["last_prediction_image"] = prep.image  # other pages can place it
    show_answers(answers, true_label, user_picture=user_picture)


KEPT_ANSWERS = 12  # per session: a handful of uploads and drawings, under a megabyte


def _digest(source) -> str:
    """A short hash of an image source (bytes, an array, a path)."""
    if isinstance(source, np.ndarray):
        data = np.ascontiguousarray(source).tobytes() + str(source.shape).encode()
    elif isinstance(source, bytes | bytearray):
        data = bytes(source)
    else:
        data = repr(source).encode()
    return hashlib.blake2b(data, digest_size=16).hexdigest()


# --------------------------------------------------------------------------- stored results


@st.cache_resource(show_spinner=False, max_entries=64)
def _results(ref: str, path: str, created: str | None) -> ModelResults:
    art = find_artifact(ref)
    return ModelResults.from_artifact(art, dataset_or_stop().y_test)


def trained_results(with_versions: bool = False) -> dict[str, ModelResults]:
    """Stored test-set results of every model's active version, keyed by name, loaded once
    per version; `with_versions`: every other version too, keyed 'name@version'."""
    artifacts = artifacts_or_stop()
    out = {}
    for art in artifacts:
        try:
            out[art.name] = _results(art.ref, str(art.path), art.manifest.get("created_utc"))
        except (ArtifactError, ValueError) as e:
            st.warning(f"**{art.name}**: {e}")
    if with_versions:
        for ref, art in other_versions().items():
            try:
                out[ref] = _results(ref, str(art.path), art.manifest.get("created_utc"))
            except (ArtifactError, ValueError):
                continue  # the Models page reports damaged versions
    return out


# --------------------------------------------------------------------------- versions


def session_token() -> str:
    """This browser session's id: runs started here are its own (it may delete them)."""
    if "session_token" not in st.session_state:
        st.session_state["session_token"] = uuid.uuid4().hex
    return st.session_state["session_token"]


def other_versions() -> dict[str, Artifact]:
    """Every readable version that is not its model's active one, by 'name@version'."""
    out = {}
    for name in list_models():
        for v in list_versions(name):
            if not v.active and v.artifact is not None:
                out[v.ref] = v.artifact
    return out


def model_label(ref: str) -> str:
    """How pickers show a model or a version: 'twoconv', 'twoconv: run 2026... by Ann (16.02%)'."""
    name, version = split_ref(ref)
    if version is None:
        return display_name(name)
    try:
        art = find_artifact(ref)
    except ArtifactError:
        return ref
    acc = art.manifest.get("test_accuracy")
    return f"{display_name(name)}: {version_label(art)}" + (
        f" ({acc:.2%})" if acc is not None else ""
    )


def name_versions_in_use(artifacts: list[Artifact] | None = None) -> None:
    """One line naming the models whose active version is not the shipped one."""
    artifacts = artifacts if artifacts is not None else current_artifacts()[0]
    runs = [a for a in artifacts if a.version != SHIPPED]
    if runs:
        st.info(
            "Not the shipped version: "
            + "; ".join(f"**{a.name}** is {version_label(a)}" for a in runs)
            + ". The Models page lists every version and switches back."
        )


def image_grid(indices, images, captions, empty: str = "No images.") -> None:
    """Test images as one grid of thumbnails with captions.

    The 28x28 originals are sent as they are and enlarged by the browser with square pixels
    (app.py sets image-rendering: pixelated):
    a ninth of the bytes of pre-enlarged images, which keeps pages with many images quick.
    """
    if len(indices) == 0:
        st.caption(empty)
        return
    st.image([images[i] for i in indices], caption=list(captions), output_format="PNG", width=84)


# --------------------------------------------------------------------------- embeddings


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

    def report(fraction: float, message: str) -> None:
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
    digest = hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).hexdigest()
    return _placed(request, source_fingerprint(request.source), digest, emb, image)


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


def use_version_button(name: str, version: str, key: str, label: str = "Use this version") -> None:
    """Make a version active for everyone; the button says what it will do."""
    if st.button(label, key=key, type="primary"):
        try:
            activate(name, version, by=st.session_state.get("train_owner", ""))
        except ArtifactError as e:
            st.error(str(e))
            return
        st.toast(f"{name}: version {version} is now the one every page uses.")
        st.rerun()


def versions_panel(name: str) -> None:
    """A model's versions: accuracy, who, what changed; make one active, compare, delete."""
    versions = list_versions(name)
    active = next((v for v in versions if v.active), None)
    title = f"**{display_name(name)}**: {len(versions)} versions; in use: " + (
        "shipped" if active and active.id == SHIPPED else (active.id if active else "none")
    )
    with st.expander(title, expanded=active is not None and active.id != SHIPPED):
        st.dataframe(
            [
                {
                    "In use": "yes" if v.active else "",
                    "Version": v.id,
                    "Started by": "the app's authors"
                    if v.origin == "shipped"
                    else (started_by(v.manifest) or "unknown"),
                    "Created (UTC)": (v.manifest.get("created_utc") or "")[:16].replace("T", " "),
                    "Test accuracy": (v.manifest.get("test_accuracy") or 0) * 100
                    if v.artifact
                    else None,
                    "Against the recipe": recipe_changes(v.manifest) if v.artifact else v.problem,
                    "Training (s)": v.manifest.get("training_seconds"),
                }
                for v in versions
            ],
            hide_index=True,
            width="stretch",
            column_config=MODEL_TABLE_COLUMNS,
        )
        by_id = {v.id: v for v in versions}
        pick = st.selectbox(
            "Version",
            list(by_id),
            index=len(by_id) - 1,
            key=f"version_pick_{name}",
            format_func=lambda i: i + (" (in use)" if by_id[i].active else ""),
        )
        v = by_id[pick]
        use, compare, delete = st.columns(3)
        with use:
            if v.active:
                st.caption("Every page uses this version.")
            elif v.artifact is not None:
                use_version_button(name, v.id, key=f"version_use_{name}")
        comparable = not v.active and v.artifact is not None and active is not None
        if comparable and compare.button(
            "Compare with the one in use", key=f"version_compare_{name}"
        ):
            st.session_state["compare_versions"] = [name, v.ref]
            st.switch_page("pages/compare.py")
        with delete:
            if v.origin == "shipped":
                st.caption("The shipped version is never deleted.")
            elif is_own(v.manifest, session_token()):
                sure = st.checkbox("Yes, delete this run", key=f"version_sure_{name}")
                if st.button("Delete", key=f"version_delete_{name}", disabled=not sure):
                    delete_version(name, v.id)
                    st.toast(f"{name}: version {v.id} deleted.")
                    st.rerun()
            else:
                st.caption(
                    "Only the person who started a run deletes it here (or on the command "
                    f"line: `python -m fmnist_core delete {name} {v.id}`)."
                )
