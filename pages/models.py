"""Models: every recipe in the registry, whether it is trained, and how well it does."""

import pandas as pd
import streamlit as st

from fmnist_core.models import display_name
from fmnist_core.ui.identity import personal_mode_hint
from fmnist_core.ui.links import LinkValueError, ViewLink, title_with_link
from fmnist_core.ui.streamlit_patches import run_through_app
from fmnist_core.ui.version_widgets import model_card, versions_panel
from fmnist_core.ui.widgets import EMPTY_CELL, MODEL_TABLE_COLUMNS
from fmnist_core.versions.catalog import NEEDS_WEIGHTS, model_catalog

run_through_app()
title_with_link("Models")
st.markdown(
    "Every CNN from the five tutorials, trained with the tutorial's own recipe, and our own "
    "models *beyond the tutorials*. The *shipped* versions come with the app; each training "
    "run adds a version beside them, which every page uses only once someone makes it the "
    "one in use (see **Versions** below)."
)
personal_mode_hint()

rows = model_catalog()
table = pd.DataFrame(
    {
        "Model": [r["name"] for r in rows],
        "Source": [
            "beyond the tutorials" if r["beyond_tutorials"] else f"tutorial {r['source']}"
            for r in rows
        ],
        "Status": ["needs weights" if r["status"] == NEEDS_WEIGHTS else r["status"] for r in rows],
        "Version in use": [r["version"] or "" for r in rows],
        "Parameters": [r["params"] for r in rows],
        "Epochs": [
            f"{r['epochs']}" + (f" + {r['augment_epochs']}" if r["augment_epochs"] else "")
            for r in rows
        ],
        "Accuracy": [
            r["test_accuracy"] * 100 if r["test_accuracy"] is not None else None for r in rows
        ],
        "Tutorial": [
            r["reported_accuracy"] * 100 if r["reported_accuracy"] else None for r in rows
        ],
        "Δ points": [r["difference"] * 100 if r["difference"] is not None else None for r in rows],
        "Training (s)": [r["training_seconds"] for r in rows],
    }
)
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    height=35 * (len(table) + 1) + 3,  # every model in view, none behind a scroll bar
    column_config={
        **MODEL_TABLE_COLUMNS,
        "Accuracy": st.column_config.NumberColumn(
            format="%.2f%%", help="Test accuracy of the version in use, on all 10,000 test images"
        ),
        "Tutorial": st.column_config.NumberColumn(
            format="%.2f%%", help="The test accuracy the tutorial reported for its recipe"
        ),
        "Δ points": st.column_config.NumberColumn(
            format="%+.2f", help="Accuracy minus the tutorial's, in percentage points"
        ),
        "Epochs": st.column_config.TextColumn(help="Plain epochs + epochs on augmented images"),
    },
    placeholder=EMPTY_CELL,
)
# the long texts in a table of their own: the one above fits a laptop's width
with st.expander("What each model is, and the tutorial its recipe comes from"):
    st.dataframe(
        pd.DataFrame(
            {
                "Model": [r["name"] for r in rows],
                "Architecture": [r["description"] for r in rows],
                "Recipe from": [r["tutorial"] for r in rows],
            }
        ),  # fmt: skip
        hide_index=True,
        width="stretch",
        column_config={"Architecture": st.column_config.TextColumn(width="large")},
    )

# one model: /models?model=cnn4, or one of its versions: /models?model=cnn4@<version>
by_name = {r["name"]: r for r in rows}


def _model_or_version(text: str) -> str:
    name, _, version = text.strip().partition("@")
    found = ViewLink.model(by_name)(name)
    if version:
        ids = {v["id"] for v in by_name[found]["versions"]}
        if version not in ids:
            raise LinkValueError("no such version")
        st.session_state[f"version_pick_{found}"] = version  # its versions panel shows it
    return found


link = ViewLink("models")
link.start("models_model", rows[0]["name"], "model", _model_or_version)
link.say_what_was_ignored()
st.subheader("One model")
chosen = st.selectbox("Model", list(by_name), key="models_model", format_func=display_name)
model_card(by_name[chosen])
# a version picked in its panel (other than the panel's first choice, the latest) is linked too
picked = st.session_state.get(f"version_pick_{chosen}")
latest = by_name[chosen]["versions"][-1]["id"] if by_name[chosen]["versions"] else None
link.keep(model=chosen if picked in (None, latest) else f"{chosen}@{picked}")

beyond = [r for r in rows if r["beyond_tutorials"]]
if beyond:
    st.subheader("Beyond the tutorials")
    for r in beyond:
        st.markdown(f"**{r['name']}**: {r['description']} Recipe: {r['recipe_in_words']}.")
    st.caption(
        "Trained on Fashion-MNIST's training split only, like every model here; the robust "
        "model saw each training image also as an outline, a silhouette, flat-shaded, turned "
        "or mirrored, which is why it reads drawings and clip art that the tutorials' models "
        "miss."
    )

for r in rows:
    if r["status"] == NEEDS_WEIGHTS:
        st.info(
            f"**{r['name']}** needs ImageNet weights, which Keras downloads on first use: "
            f"`python -m fmnist_core train {r['name']}` (or `--weights PATH` with a local file)."
        )
    elif r["status"] == "missing":
        st.warning(
            f"**{r['name']}** is not trained yet: `python -m fmnist_core train {r['name']}`."
        )
    elif r["status"] == "corrupt":
        st.error(
            f"**{r['name']}**: {r['problem']} Train it again: `python -m fmnist_core train {r['name']}`."
        )
    if r["note"]:
        st.caption(f"{r['name']}: {r['note']}")

st.subheader("Versions")
with_runs = [r["name"] for r in rows if any(v["origin"] == "user" for v in r["versions"])]
with_runs.sort(key=lambda n: n != chosen)  # the model looked at above first
if with_runs:
    st.markdown(
        "Each model's versions: the shipped one and every training run. Make one the version "
        "every page uses, compare it with the one in use, or delete a run you started."
    )
    for name in with_runs:
        versions_panel(name)
else:
    st.caption(
        "Only the shipped versions so far. A run on the Train page (or `python -m fmnist_core "
        "train MODEL`) adds a version here, beside the shipped one."
    )
