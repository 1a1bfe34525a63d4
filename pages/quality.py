"""Data quality: training and test images whose label is probably wrong, a decision for each
(kept for the whole team), and test images that also sit in the training set."""

import numpy as np
import pandas as pd
import streamlit as st

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.classroom.store import StoreError, current_decisions, decisions_csv
from fmnist_core.data.gallery import tile
from fmnist_core.quality.label_issues import FinderRequest
from fmnist_core.ui.links import ViewLink, title_with_link
from fmnist_core.ui.loaders import dataset_or_stop, trained_results
from fmnist_core.ui.quality_views import (
    ANY,
    class_pair_filter,
    near_duplicates,
    reviewer_name,
    suspect_grid,
    test_set_suspects,
    training_suspects_or_compute,
)
from fmnist_core.ui.streamlit_patches import run_through_app

run_through_app()
title_with_link("Data quality")
st.markdown(
    "Is the model wrong, or the label? Every image below carries a label the models find "
    "improbable. Decide for each one; decisions are saved for everyone, with your name, and "
    "can be downloaded."
)
ds = dataset_or_stop()
reviewer_name()
TABS = {"train": "Training set", "test": "Test set", "duplicates": "Train/test duplicates"}
# the link: /quality?tab=test&labelled=Shirt&looks_like=T-shirt/top (a class pair's suspects)
link = ViewLink("quality")
link.start("quality_tab", TABS["train"], "tab",
           lambda t: TABS[ViewLink.one_of(TABS)(t)])  # fmt: skip
split = next(k for k, label in TABS.items() if label == st.session_state["quality_tab"])
if split != "duplicates":
    pick = lambda t: ANY if t.lower() == "any" else ViewLink.class_name(t)  # noqa: E731
    link.start(f"{split}_given", ANY, "labelled", pick)
    link.start(f"{split}_suggested", ANY, "looks_like", pick)
link.say_what_was_ignored()
train_tab, test_tab, dup_tab = st.tabs(list(TABS.values()), key="quality_tab", on_change="rerun")

with train_tab:
    req = FinderRequest()
    st.caption(
        f"Each training image was judged by one of {req.folds} {req.model} models trained "
        f"without it ({req.epochs} epochs each); confident learning (cleanlab) keeps the images "
        "whose label is less likely than each class pair's usual confusion, most suspect first."
    )
    suspects = training_suspects_or_compute()
    if suspects is not None:
        st.markdown(
            f"**{len(suspects):,} suspect labels** among {len(ds.y_train):,} training images "
            f"({len(suspects) / len(ds.y_train):.1%})."
        )
        shown = class_pair_filter(suspects, "train")
        suspect_grid("train", suspects, ds.x_train, shown, "train")

with test_tab:
    results = trained_results()
    suspects_test = test_set_suspects(results)
    st.caption(
        f"Judged by the mean of the {len(results)} shipped models, none of which trained on "
        "the test set."
    )
    st.markdown(f"**{len(suspects_test):,} suspect labels** among {len(ds.y_test):,} test images.")
    try:
        marked = [i for i, d in current_decisions("test").items() if d["decision"] == "relabel"]
    except StoreError as e:
        st.error(str(e))
        marked = []
    flagged = suspects_test.indices
    rows = []
    for name, r in results.items():
        keep_flagged = np.ones(len(r.correct), bool)
        keep_flagged[flagged] = False
        keep_marked = np.ones(len(r.correct), bool)
        keep_marked[marked] = False
        rows.append({
            "Model": name,
            "Test accuracy": r.correct.mean() * 100,
            f"Without the {len(flagged)} suspects": r.correct[keep_flagged].mean() * 100,
            f"Without the {len(marked)} marked 'relabel'": r.correct[keep_marked].mean() * 100,
        })  # fmt: skip
    st.dataframe(pd.DataFrame(rows).style.format(precision=2), hide_index=True, width="stretch")
    st.caption(
        "Accuracy recomputed without the test images whose label is suspect, and without "
        "those a reviewer marked for relabelling: how much of each model's error is the data's."
    )
    shown = class_pair_filter(suspects_test, "test")
    suspect_grid("test", suspects_test, ds.x_test, shown, "test")

given, looks = (st.session_state.get(f"{split}_{k}", ANY) for k in ("given", "suggested"))
link.keep(tab=split, labelled=None if given == ANY else given,
          looks_like=None if looks == ANY else looks)  # fmt: skip

with dup_tab:
    dups = near_duplicates(ds.checksum)
    st.markdown(
        f"**{len(dups)} test images** have a training image with (nearly) the same pixels: "
        f"{dups.exact_count} identical, {len(dups) - dups.exact_count} near-exact (a mean "
        "difference of at most 2 of 255 per pixel). A model that memorised the training set "
        "gets these right for free."
    )
    if len(dups):
        differ = int((ds.y_test[dups.test] != ds.y_train[dups.train]).sum())
        st.caption(f"{differ} of these pairs carry different labels.")
        first = dups.test[:24]
        pairs = np.stack(
            [im for t, tr in zip(first, dups.train[:24]) for im in (ds.x_test[t], ds.x_train[tr])]
        )
        st.image(tile(pairs, cols=8, scale=2), output_format="PNG",
                 caption="Pairs, test image then its training twin (the first 24)")  # fmt: skip
        st.dataframe(
            pd.DataFrame(
                {
                    "Test index": dups.test,
                    "Test label": [CLASS_NAMES[c] for c in ds.y_test[dups.test]],
                    "Training index": dups.train,
                    "Training label": [CLASS_NAMES[c] for c in ds.y_train[dups.train]],
                    "Mean pixel difference": np.round(dups.distance, 2),
                }
            ),  # fmt: skip
            hide_index=True,
            width="stretch",
        )

st.subheader("Downloads")
c1, c2 = st.columns(2)
for col, split, labels in ((c1, "train", ds.y_train), (c2, "test", ds.y_test)):
    try:
        col.download_button(
            f"Decisions on {split} labels (CSV)", decisions_csv(split, labels),
            f"label-decisions-{split}.csv", "text/csv", key=f"dl_{split}",
        )  # fmt: skip
    except StoreError as e:
        col.error(str(e))
