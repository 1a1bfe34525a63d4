"""Versions in the app: which version each page shows, the Models page's version panel,
"Use this version" (the teacher, for everyone) and "Use in my session" (anyone, for
themselves)."""

from __future__ import annotations

import streamlit as st

from fmnist_core.models import display_name
from fmnist_core.roles import NotAllowed
from fmnist_core.ui.identity import current_actor, teacher_only_note
from fmnist_core.ui.links import link_to
from fmnist_core.ui.loaders import current_artifacts, my_runs, use_in_my_session
from fmnist_core.ui.widgets import MODEL_TABLE_COLUMNS
from fmnist_core.versions import (
    SHIPPED,
    Artifact,
    ArtifactError,
    activate,
    delete_version,
    get_version,
    list_versions,
    may_delete,
    recipe_changes,
    split_ref,
    started_by,
    version_label,
)


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
    mine = my_runs()
    own = [a for a in artifacts if a.name in mine]
    if own:
        st.info(
            "For you only: "
            + "; ".join(f"**{a.name}** is your choice, {version_label(a)}" for a in own)
            + ". Everyone else sees the version in use; the Models page switches you back."
        )
    runs = [a for a in artifacts if a.version != SHIPPED and a.name not in mine]
    if runs:
        st.info(
            "Not the shipped version: "
            + "; ".join(f"**{a.name}** is {version_label(a)}" for a in runs)
            + ". The Models page lists every version and switches back."
        )


def use_version_button(name: str, version: str, key: str, label: str = "Use this version") -> None:
    """The teacher makes a version the one everyone uses; anyone may use it in their own
    session only (a student's choice changes nobody else's pages)."""
    actor = current_actor()
    if actor.is_teacher:
        if st.button(label, key=key, type="primary"):
            try:
                activate(name, version, actor=actor)
            except (ArtifactError, NotAllowed) as e:
                st.error(str(e))
                return
            st.toast(f"{name}: version {version} is now the one every page uses.")
            st.rerun()
        return
    if my_runs().get(name) == version:
        st.caption("Your pages show this version (only yours).")
        if st.button("Back to the class's version", key=f"{key}_mine_off"):
            use_in_my_session(name, None)
            st.rerun()
    elif st.button("Use in my session", key=f"{key}_mine", type="primary",
                   help="Predict, Compare, Confusion, Embeddings and Inside show this version to "
                   "you only; everyone else keeps the version in use."):  # fmt: skip
        use_in_my_session(name, version)
        st.toast(f"{name}: your pages now show version {version}; nobody else's changed.")
        st.rerun()
    teacher_only_note("use_version")


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
        if st.session_state.get(f"version_pick_{name}") not in by_id:  # the latest first (a
            st.session_state[f"version_pick_{name}"] = list(by_id)[-1]  # link may name another)
        pick = st.selectbox(
            "Version",
            list(by_id),
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
            st.switch_page("pages/compare.py", query_params={"models": f"{name},{v.ref}"})
        with delete:
            if v.origin == "shipped":
                st.caption("The shipped version is never deleted.")
            elif may_delete(current_actor(), v.manifest, v.id):
                sure = st.checkbox("Yes, delete this run", key=f"version_sure_{name}")
                if st.button("Delete", key=f"version_delete_{name}", disabled=not sure):
                    try:
                        delete_version(name, v.id, actor=current_actor())
                    except (ArtifactError, NotAllowed) as e:
                        st.error(str(e))
                        return
                    st.toast(f"{name}: version {v.id} deleted.")
                    st.rerun()
            else:
                st.caption(
                    "Only the person who started a run, or the teacher, deletes it (or the "
                    f"command line: `python -m fmnist_core delete {name} {v.id}`)."
                )


def model_card(row: dict) -> None:
    """One model of the Models page: what it is, how well it does, and links to the pages
    that show it (each opening on this model)."""
    name = row["name"]
    st.markdown(f"#### {display_name(name)}")
    a, b, c, d = st.columns(4)
    acc, reported = row["test_accuracy"], row["reported_accuracy"]
    a.metric(
        "Test accuracy",
        f"{acc:.2%}" if acc is not None else "not trained",
        f"{row['difference'] * 100:+.2f} points against the tutorial"
        if row["difference"] is not None
        else None,
    )
    b.metric("The tutorial reported", f"{reported:.2%}" if reported else "nothing")
    c.metric("Parameters", f"{row['params']:,}" if row["params"] else "—")
    d.metric("Version in use", row["version"] or "none")
    st.markdown(
        f"{row['description']}  \n**Recipe:** {row['recipe_in_words']}.  \n"
        + (
            "**Beyond the tutorials**: our own recipe."
            if row["beyond_tutorials"]
            else f"**From the tutorial:** {row['tutorial']}"
        )  # fmt: skip
    )
    if row["status"] not in ("trained", "shipped") or acc is None:
        return
    links = st.columns(3)
    with links[0]:
        link_to("pages/confusion.py", "Where it goes wrong", ":material/grid_on:", model=name)
    with links[1]:
        link_to("pages/compare.py", "Its learning curves", ":material/leaderboard:", models=name)
    if not row.get("members"):  # an ensemble has no inside of its own
        with links[2]:
            link_to("pages/inside.py", "Inside it", ":material/neurology:", model=name)
