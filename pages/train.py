"""Train: train a registry model from the browser and watch it learn, live."""

import streamlit as st

from fmnist_core.errors import FmnistError
from fmnist_core.figures.comparison import learning_curves_figure
from fmnist_core.models import get_spec, glossary_for, list_models, recipe_in_words
from fmnist_core.training import jobs as train_jobs
from fmnist_core.ui.identity import (
    current_actor,
    personal_mode_hint,
    set_name,
    teacher_only_note,
)
from fmnist_core.ui.streamlit_patches import run_through_app
from fmnist_core.ui.version_widgets import use_version_button
from fmnist_core.versions import SHIPPED, active_artifact, get_version

run_through_app()
st.title("Train")
st.markdown(
    "Train any of the tutorials' models on the real data and watch the loss fall and the "
    "accuracy rise, epoch by epoch. The defaults finish in about a minute on a CPU. Each run "
    "is saved as a new version of the model: the pages keep using the version in use (the "
    "shipped one at first) until you choose yours. One training runs at a time."
)
personal_mode_hint()


def settings_form(lock) -> None:
    names = [n for n in list_models() if not get_spec(n).needs_pretrained_weights]
    model = st.selectbox(
        "Model", names, key="train_model", format_func=lambda n: f"{n}: {get_spec(n).description}"
    )
    defaults = train_jobs.default_options(model)
    spec = get_spec(model)
    recipe = spec.recipe
    whose = (
        "Our recipe (beyond the tutorials)" if spec.beyond_tutorials else "The tutorial's recipe"
    )
    st.caption(
        f"{whose}: {recipe_in_words(recipe)}"
        + (f", {recipe.kfold}-fold cross-validation" if recipe.kfold else "")
        + ". The defaults below are a quick version of it."
    )
    words = glossary_for(f"{spec.description} {recipe_in_words(recipe)} epoch batch")
    with st.expander("What these words mean"):
        st.markdown("\n".join(f"- **{term}**: {meaning}" for term, meaning in words.items()))
    augment_help = (
        "Epochs on training images drawn as outlines, silhouettes, flat shades, turned and mirrored"
        if recipe.augmentation == "styles"
        else "Extra epochs on rotated, shifted, zoomed images (tutorial 000)"
    )
    if spec.assembled:
        assemble_form(model, defaults, lock)
        return
    resume_offer(model, lock)
    if recipe.init_from:
        st.info(
            f"{model} starts from **{recipe.init_from}**'s trained weights (the version in use) "
            f"and learns from there, so it trains on the same training images as that "
            f"{recipe.init_from} did (all of them for the shipped one): an epoch takes a few "
            "minutes on a CPU."
        )
    with st.form("train_form"):
        c1, c2, c3 = st.columns(3)
        epochs = c1.number_input("Epochs", 0, 200, defaults["epochs"])
        augment = c1.number_input(
            "Augmented epochs", 0, 200, defaults["augment_epochs"], help=augment_help
        )
        batch = c2.select_slider(
            "Batch size", [16, 32, 64, 128, 256, 512, 1024], defaults["batch_size"]
        )
        limit = c2.select_slider(
            "Training images", [1000, 2000, 5000, 10000, 20000, 60000], defaults["limit"] or 60000
        )
        kfold = c3.number_input("k-fold (0 = off)", 0, 10, 0)
        seed = c3.number_input("Seed", 0, 10_000, 0)
        owner = owner_field()
        start = st.form_submit_button("Start training", type="primary", disabled=lock is not None)
    if start:
        options = {**defaults, "epochs": int(epochs), "augment_epochs": int(augment),
                   "batch_size": int(batch), "limit": None if limit >= 60000 else int(limit),
                   "kfold": int(kfold), "seed": int(seed)}  # fmt: skip
        _start(model, options, owner)


def resume_offer(model: str, lock) -> None:
    """A run of this model that stopped part-way (a restart, a crash): continue it from its
    last complete epoch."""
    runs = train_jobs.interrupted(model)
    if not runs:
        return
    run = runs[0]
    who = (run.run.get("options") or {}).get("started_by") or "someone"
    st.warning(
        f"A run of **{model}** by {who} was interrupted at epoch **{run.epoch} of "
        f"{run.epochs}** (last saved {run.updated_utc}). Resume it from there, with its settings?"
    )
    if st.button("Resume", key="train_resume", disabled=lock is not None):
        _start(model, {}, owner_field_value(), resume=True)


def owner_field_value() -> str:
    actor = current_actor()
    return actor.name if actor.name and actor.name != "You" else ""


def assemble_form(model: str, defaults: dict, lock) -> None:
    """The ensemble trains nothing: one click chooses its members among the models in use."""
    st.info(
        "Nothing is trained: the ensemble tries every set of two or more of the models in use "
        "that held out the validation split, keeps the set whose averaged answers are right "
        "most often on it, and scores that on the test set. It takes a minute or two."
    )
    with st.form("train_form"):
        owner = owner_field()
        start = st.form_submit_button("Assemble", type="primary", disabled=lock is not None)
    if start:
        _start(model, defaults, owner)


def owner_field() -> str:
    """Who is training: a name typed here the first time, then remembered (shown to others
    while the run trains, and on its version)."""
    actor = current_actor()
    if actor.name and actor.name != "You":
        st.caption(f"Training as **{actor.name}**.")
        return actor.name
    return st.text_input("Your name (shown to others while you train)", key="train_owner")


def _start(model: str, options: dict, owner: str, resume: bool = False) -> None:
    actor = current_actor()
    try:
        if owner.strip() and owner.strip() != actor.name:
            actor = set_name(owner)  # given once: the next run, a reload, a new tab know it
        train_jobs.start_job(model, options, actor, resume=resume)
        st.session_state["train_mine"] = True
    except FmnistError as e:
        st.error(str(e))
        return
    st.rerun()


@st.fragment(run_every=1.0)
def live_progress() -> None:
    """Re-drawn every second from the job's status file: any user, any reload sees the same."""
    lock = train_jobs.read_lock()
    status = train_jobs.read_status()
    if status is None:
        st.info("No training has run yet on this machine.")
        return
    state = status.get("state")
    model = status.get("model")
    who = status.get("owner") or "someone"
    if state in train_jobs.ACTIVE and lock is not None:
        fraction = float(status.get("fraction") or 0.0)
        actor = current_actor()
        mine = lock.get("session") == actor.id
        where = status.get("device", "the CPU")
        st.markdown(
            f"Your training of **{model}** on {where}"
            if mine
            else f"**{who}** is training **{model}** on {where}"
        )
        st.progress(min(fraction, 1.0), text=f"{fraction:.0%}: {train_jobs.progress_text(status)}")
        logs = status.get("logs") or {}
        if logs:
            cols = st.columns(4)
            cols[0].metric("loss", f"{logs.get('loss', 0):.4f}")
            cols[1].metric("accuracy", f"{logs.get('accuracy', 0):.2%}")
            last = (status.get("history") or [{}])[-1]
            if "val_accuracy" in last:
                cols[2].metric("validation loss", f"{last['val_loss']:.4f}")
                cols[3].metric("validation accuracy", f"{last['val_accuracy']:.2%}")
        if not train_jobs.may_cancel(actor, lock):
            teacher_only_note("cancel_training")
        elif st.button("Cancel training", key="train_cancel"):
            try:
                train_jobs.cancel_job(actor=actor)
                st.toast("Cancelling: training stops within a few seconds and saves nothing.")
            except FmnistError as e:
                st.error(str(e))
    elif state == "finished":
        finished(status, model, who)
    elif state == "cancelled":
        st.warning(f"Training of **{model}** was cancelled; nothing was saved.")
    elif state == "failed":
        st.error(f"Training of **{model}** failed: {status.get('error')}")
    history = status.get("history") or []
    if history:
        left, right = st.columns(2)
        left.plotly_chart(
            learning_curves_figure({model: history}, "accuracy"), key="train_curve_acc"
        )
        right.plotly_chart(learning_curves_figure({model: history}, "loss"), key="train_curve_loss")
    if (state not in train_jobs.ACTIVE) and st.session_state.pop("train_mine", False):
        # the form outside this fragment was drawn disabled while the job ran: redraw it
        st.rerun(scope="app")


def finished(status: dict, model: str, who: str) -> None:
    """The run's accuracy beside the version in use, and the choice to use it."""
    version = status.get("version")
    st.success(
        f"**{model}** finished ({who}): test accuracy **{status.get('test_accuracy', 0):.2%}** "
        f"after {status.get('training_seconds', 0):.0f} s on {status.get('device', 'the CPU')}. "
        f"Saved as version {version}."
    )
    try:
        in_use = active_artifact(model)
        get_version(model, version)  # deleted since, or from before versions: nothing to offer
    except (FmnistError, TypeError):
        return
    if in_use is None or in_use.version == version:
        st.caption("Every page uses this version.")
        return
    label = "the shipped version" if in_use.version == SHIPPED else f"version {in_use.version}"
    acc = in_use.manifest.get("test_accuracy")
    st.markdown(
        f"The pages still use {label}"
        + (f" (test accuracy **{acc:.2%}**)" if acc is not None else "")
        + (
            ". Use the new one everywhere?"
            if current_actor().is_teacher
            else ". Try it on your pages?"
        )
    )
    use_version_button(model, version, key="train_use_version")


train_jobs.recover_stale_lock()  # once per page load, not in the fragment that polls every second
lock = train_jobs.read_lock()
if lock is not None:
    st.info(train_jobs.busy_message(lock, train_jobs.read_status(), current_actor().id))
settings_form(lock)
live_progress()
