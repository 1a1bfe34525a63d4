"""Versions in the app: which version each page shows, the Models page's version panel,
"Use this version", and this browser session's identity (its own runs)."""

from __future__ import annotations

import uuid

import streamlit as st

from fmnist_core.models import display_name
from fmnist_core.ui.loaders import current_artifacts
from fmnist_core.ui.widgets import MODEL_TABLE_COLUMNS
from fmnist_core.versions import (
    SHIPPED,
    Artifact,
    ArtifactError,
    activate,
    delete_version,
    get_version,
    is_own,
    list_versions,
    recipe_changes,
    split_ref,
    started_by,
    version_label,
)


def session_token() -> str:
    """This browser session's id: runs started here are its own (it may delete them)."""
    if "session_token" not in st.session_state:
        st.session_state["session_token"] = uuid.uuid4().hex
    return st.session_state["session_token"]


def model_label(ref: str) -> str:
    """How pickers show a model or a version: 'twoconv', 'twoconv: run 2026... by Ann (16.02%)'."""
    name, version = split_ref(ref)
    if version is None:
        return display_name(name)
    try:
        art = get_version(name, version)
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
