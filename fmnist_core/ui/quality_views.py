"""The Data quality page's views: suspect labels with a decision per image (kept in the
shared store), filters by class pair, paging, exports; train/test near-duplicates."""

from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.classroom.store import StoreError, current_decisions, proposals, record_decision
from fmnist_core.contracts import ProgressEvent
from fmnist_core.data.exports import images_zip
from fmnist_core.quality.label_issues import (
    Duplicates,
    FinderRequest,
    Suspects,
    is_cached,
    test_suspects,
    train_test_duplicates,
    training_suspects,
)
from fmnist_core.roles import TEACHER, Actor, NotAllowed
from fmnist_core.ui.identity import ask_name, class_mode, current_actor
from fmnist_core.ui.loaders import dataset_or_stop
from fmnist_core.ui.widgets import escape_markdown

PAGE_SIZE = 15
# three per row: each decision control ("Right | → T-shirt/top | Unsure") fits its column at
# 1400 px (four cut "Unsure" to "Unsur")
COLUMNS = 3
ANY = "any class"
CHOICES = ["keep", "relabel", "ambiguous"]
CHOICE_WORDS = {"keep": "Right", "relabel": "Relabel", "ambiguous": "Unsure"}


@st.cache_resource(show_spinner=False, max_entries=2)
def _training_suspects(checksum: str) -> tuple[Suspects, bool]:
    suspects, _, cached = training_suspects(dataset_or_stop(), use_cache=True)
    return suspects, cached


def training_suspects_or_compute() -> Suspects | None:
    """The training set's suspects from the cached (or shipped) k-fold run; when there is
    none, a button runs it with a progress bar."""
    ds = dataset_or_stop()
    if not is_cached(ds.y_train.astype(np.int64), FinderRequest(), ds.checksum):
        req = FinderRequest()
        st.info(
            f"Finding suspect labels trains {req.folds} small models ({req.model}, "
            f"{req.epochs} epochs each) so that every training image is judged by a model that "
            "never saw it: a few minutes on a laptop, once per server."
        )
        if not st.button("Find suspect labels", type="primary"):
            return None
        bar = st.progress(0.0, text="starting")

        def report(event: ProgressEvent) -> None:
            fraction = event.get("fraction", 0.0)
            bar.progress(min(max(fraction, 0.0), 1.0), text=event.get("message", ""))

        training_suspects(ds, progress=report)
        bar.empty()
    with st.spinner("Ranking suspect labels..."):
        return _training_suspects(ds.checksum)[0]


@st.cache_resource(show_spinner=False, max_entries=4)
def _test_suspects(signature: tuple, _probs: list) -> Suspects:
    return test_suspects(dataset_or_stop().y_test, _probs)


def test_set_suspects(results: dict) -> Suspects:
    names = sorted(n for n in results if "@" not in n)
    signature = tuple((n, results[n].manifest.get("created_utc")) for n in names)
    return _test_suspects(signature, [results[n].probs for n in names])


@st.cache_resource(show_spinner="Looking for test images that also sit in the training set...")
def near_duplicates(checksum: str) -> Duplicates:
    ds = dataset_or_stop()
    return train_test_duplicates(ds.x_train, ds.x_test)


def reviewer_name() -> None:
    """Who decides: personal mode, a name typed here; class mode, the person's name (asked
    once): the teacher's decisions settle an image for the team, a student's are proposals."""
    if not class_mode():
        st.text_input(
            "Your name (saved with each decision)", key="reviewer", max_chars=40,
            placeholder="e.g. Ann",
        )  # fmt: skip
        return
    actor = ask_name("reviewer", "saved with each decision")
    if actor is None:
        return
    if actor.is_teacher:
        st.caption(f"Deciding as **{escape_markdown(actor.label)}**: your decisions settle each "
                   "image for the team; students' proposals show under each image.")  # fmt: skip
    else:
        st.caption(f"Deciding as **{escape_markdown(actor.name)}**: your decisions are "
                   "proposals; the teacher settles each image for the team.")  # fmt: skip


def _reviewer() -> Actor:
    actor = current_actor()
    if class_mode():
        return actor
    typed = " ".join(str(st.session_state.get("reviewer") or "").split())[:40]
    return Actor(typed or "anonymous", actor.role, actor.id)


def _who(row: dict) -> str:
    """A decision's author as shown: '(teacher)' from the stored role, never from the name."""
    name = escape_markdown(row["reviewer"])
    return f"{name} (teacher)" if class_mode() and row.get("role") == TEACHER else name


def class_pair_filter(suspects: Suspects, key: str) -> np.ndarray:
    """Two pickers, given and suggested class; returns the positions in `suspects` shown."""
    left, right = st.columns(2)
    given = left.selectbox("Labelled as", [ANY, *CLASS_NAMES], key=f"{key}_given")
    suggested = right.selectbox("Looks like", [ANY, *CLASS_NAMES], key=f"{key}_suggested")
    keep = np.ones(len(suspects), bool)
    if given != ANY:
        keep &= suspects.given == CLASS_NAMES.index(given)
    if suggested != ANY:
        keep &= suspects.suggested == CLASS_NAMES.index(suggested)
    return np.flatnonzero(keep)


def _choice_label(choice: str, suggested: int) -> str:
    """A decision's button: the class a relabel would give, else the decision's word."""
    return f"→ {CLASS_NAMES[suggested]}" if choice == "relabel" else CHOICE_WORDS[choice]


def _decide(split: str, index: int, key: str, suggested: int) -> None:
    choice = st.session_state.get(key)
    if choice is None:
        return
    try:
        actor = _reviewer()
        if not actor.name:
            raise NotAllowed("Save your name above first: each decision carries it.")
        record_decision(split, index, choice, actor,
                        new_label=suggested if choice == "relabel" else None)  # fmt: skip
    except (StoreError, NotAllowed) as e:
        st.session_state["_store_error"] = str(e)


def suspect_grid(split: str, suspects: Suspects, images: np.ndarray, shown: np.ndarray, key: str):
    """One page of suspects: each image with its labels and a decision control."""
    if err := st.session_state.pop("_store_error", None):
        st.error(err)
    if len(shown) == 0:
        st.caption("No suspect with these classes.")
        return
    pages = (len(shown) - 1) // PAGE_SIZE + 1
    page = 1
    page_col, zip_col = st.columns([3, 1])
    if pages > 1:
        page = page_col.number_input(f"Page (of {pages})", 1, pages, 1, key=f"{key}_page")
    ds = dataset_or_stop()
    labels = ds.y_train if split == "train" else ds.y_test
    chosen = suspects.indices[shown]
    zip_col.download_button(
        f"These {len(shown)} images (ZIP)",
        lambda: images_zip(chosen, images, labels, split=split, extra={
            "suggested_class": [CLASS_NAMES[c] for c in suspects.suggested[shown]],
            "probability_of_label": [f"{v:.4f}" for v in suspects.scores[shown]],
        }),
        f"suspect-{split}-labels.zip", "application/zip", key=f"{key}_zip",
    )  # fmt: skip
    decided = current_decisions(split)
    proposed = proposals(split)
    positions = shown[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    cols = st.columns(COLUMNS)
    for n, pos in enumerate(positions):
        index = int(suspects.indices[pos])
        given, suggested = int(suspects.given[pos]), int(suspects.suggested[pos])
        score = float(suspects.scores[pos])
        belief = f"{score:.1%}" if score >= 0.001 else "under 0.1%"
        with cols[n % COLUMNS]:
            st.image(images[index], width=112, output_format="PNG",
                     caption=f"#{index}: labelled {CLASS_NAMES[given]}, looks like "
                     f"{CLASS_NAMES[suggested]} (its label: {belief})")  # fmt: skip
            widget = f"{key}_decision_{index}"
            st.segmented_control(
                "Decision", CHOICES, key=widget, label_visibility="collapsed",
                help="Right: the label stands. Relabel: it should be the class shown. "
                "Unsure: even a person cannot tell.",
                format_func=partial(_choice_label, suggested=suggested),
                on_change=_decide, args=(split, index, widget, suggested),
            )  # fmt: skip
            if index in decided:
                st.caption(f"{_what(decided[index])}, by {_who(decided[index])}")
            if proposed.get(index):
                st.caption("Proposed: " + "; ".join(
                    f"{_what(p)} ({escape_markdown(p['reviewer'])})" for p in proposed[index]))  # fmt: skip


def _what(row: dict) -> str:
    if row["decision"] == "relabel":
        return f"relabel → {CLASS_NAMES[row['new_label']]}"
    return str(row["decision"])
