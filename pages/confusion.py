"""Confusion matrix: where a model goes wrong, with the images behind every cell."""

import numpy as np
import pandas as pd
import streamlit as st

from fmnist_core.analysis.results import (
    matrix_csv,
    misclassified_csv,
    right_wrong,
    row_normalised,
    top_confusions,
)
from fmnist_core.analysis.significance import mcnemar
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.data.exports import images_zip
from fmnist_core.data.gallery import tile
from fmnist_core.figures.confusion import confusion_figure
from fmnist_core.ui.links import ViewLink, title_with_link
from fmnist_core.ui.loaders import artifacts_or_stop, dataset_or_stop, trained_results
from fmnist_core.ui.reports import report_maker
from fmnist_core.ui.streamlit_patches import run_through_app
from fmnist_core.ui.version_widgets import model_label, name_versions_in_use
from fmnist_core.ui.widgets import image_grid, interval_text

PAGE_SIZE = 30
SIDE_BY_SIDE = 20

run_through_app()
title_with_link("Confusion matrix")
st.markdown(
    "Rows are the true class, columns what the model predicted; the diagonal is right. "
    "Click any cell (or pick it below the matrix) to see the test images behind it."
)

ds = dataset_or_stop()
name_versions_in_use()
results = trained_results(with_versions=True)  # active versions by name, others 'name@id'
names = [n for n in results if "@" not in n]
best = max(names, key=lambda n: results[n].correct.mean())
# the link: /confusion?model=cnn4&true=Pullover&pred=Coat (classes by name or index), &vs=...
link = ViewLink("confusion")
linked_model = ViewLink.model(results, {a.ref: a.name for a in artifacts_or_stop()})
if st.session_state.get("cm_model") not in (None, *results):
    del st.session_state["cm_model"]  # a version deleted since
link.start("cm_model", best, "model", linked_model)
vs = link.get("vs", linked_model)
if vs is not None and vs != st.session_state["cm_model"]:
    st.session_state.update(cm_compare=True, cm_other=vs)
top, mode_col = st.columns([2, 1])
model = top.selectbox(
    "Model",
    names + [m for m in [st.session_state["cm_model"]] if m not in names],  # a linked version
    key="cm_model",
    format_func=model_label,
)
mode = mode_col.segmented_control("Show", ["Counts", "Row %"], default="Counts", key="cm_mode")
r = results[model]
cm = r.confusion()
normalised = mode == "Row %"

# the cell: the link's, else the model's biggest confusion
first = top_confusions(cm, 1)[0]
link.start("cm_true", CLASS_NAMES[first.true], "true", ViewLink.class_name)
link.start("cm_pred", CLASS_NAMES[first.predicted], "pred", ViewLink.class_name)
link.say_what_was_ignored()


def select_clicked_cell() -> None:
    points = st.session_state["cm_chart"].selection.get("points", [])
    if points:
        st.session_state["cm_true"] = CLASS_NAMES[int(points[0]["y"])]
        st.session_state["cm_pred"] = CLASS_NAMES[int(points[0]["x"])]


true_c, pred_c = (
    CLASS_NAMES.index(st.session_state["cm_true"]),
    CLASS_NAMES.index(st.session_state["cm_pred"]),
)
left, right = st.columns([5, 4])
with left:
    st.plotly_chart(
        confusion_figure(row_normalised(cm) if normalised else cm, normalised, (true_c, pred_c)),
        on_select=select_clicked_cell,
        selection_mode="points",
        key="cm_chart",
        config={"displayModeBar": False},
        width="content",
    )
with right:
    a, b = st.columns(2)
    a.selectbox("True class", CLASS_NAMES, key="cm_true")
    b.selectbox("Predicted class", CLASS_NAMES, key="cm_pred")
    cell = r.cell(true_c, pred_c)
    verdict = "right" if true_c == pred_c else "wrong"
    st.markdown(
        f"**{len(cell)} images** are {CLASS_NAMES[true_c]} and {model} said "
        f"{CLASS_NAMES[pred_c]} ({verdict}); most confident first."
    )
    start = 0
    if len(cell) > PAGE_SIZE:
        pages = (len(cell) - 1) // PAGE_SIZE + 1
        start = (st.number_input(f"Page (of {pages})", 1, pages, 1, key="cm_page") - 1) * PAGE_SIZE
    shown = cell[start : start + PAGE_SIZE]
    image_grid(shown, ds.x_test, [f"#{i} {r.confidence[i]:.0%}" for i in shown])
    if len(cell):
        st.download_button(
            f"These {len(cell)} images (ZIP)",
            lambda: images_zip(cell, ds.x_test, ds.y_test, r.y_pred, r.confidence),
            f"{model}-true-{CLASS_NAMES[true_c]}-predicted-{CLASS_NAMES[pred_c]}.zip".replace(
                "/", "-"
            ),
            "application/zip",
            key="cm_cell_zip",
            help="Each image as a PNG, with a CSV of its index, true class, prediction and confidence.",
        )

st.subheader("Precision, recall and F1 per class")
st.markdown(
    f"**{model}**: test accuracy {r.accuracy_interval.in_words()} on {len(r.y_true):,} images."
)
scores = r.scores()
recalls = r.recall_intervals
# a static table: lighter for the browser than an interactive grid, and ten rows need no scrolling
st.table(
    pd.DataFrame(
        [
            {
                "Class": c,
                **{k.capitalize(): v for k, v in s.items()},
                "Recall 95% interval": interval_text(recalls[i]),
            }
            for i, (c, s) in enumerate(scores.items())
        ]  # fmt: skip
    )
    .style.format({"Precision": "{:.3f}", "Recall": "{:.3f}", "F1": "{:.3f}"})
    .hide(axis="index")
)
st.caption(
    "95% intervals from 2,000 bootstrap resamples of the test set: with 1,000 images a class, "
    "a recall is known to about plus or minus two points."
)

st.subheader("The biggest confusions")
for c in top_confusions(cm, 5):
    examples = r.cell(c.true, c.predicted)[:3]
    text, pictures = st.columns([3, 2])
    text.markdown(f"**{c.sentence()}**")
    text.caption("Most confident: " + ", ".join(f"#{i} ({r.confidence[i]:.0%})" for i in examples))
    # one picture per confusion: three images side by side, one request for the browser
    pictures.image(tile(ds.x_test[examples], cols=3, scale=3), output_format="PNG")

st.subheader("Two models side by side")
others = [n for n in results if n != model]
other = None
if st.session_state.get("cm_other") not in (None, *others):
    del st.session_state["cm_other"]
if others and st.toggle("Compare with another model or version", key="cm_compare"):
    other = st.selectbox("Compare with", others, key="cm_other", format_func=model_label)
    o = results[other]
    test = mcnemar(r.correct, o.correct, model, other)
    (st.success if test.p_value < 0.05 else st.info)(test.in_words())
    st.caption(
        "McNemar's exact test looks only at the images exactly one of the two models got "
        "right: if both were equally good, those would split like coin tosses."
    )
    diff_col, grids = st.columns([5, 4])
    with diff_col:
        st.plotly_chart(
            confusion_figure(
                o.confusion() - cm, False, None, f"{other} minus {model} (counts)", diverging=True
            ),
            config={"displayModeBar": False},
            key="cm_diff",
            width="content",
        )
        st.caption(
            "Blue: more images in that cell for the second model; red: fewer. More on the diagonal is better."
        )
    with grids:
        mine, theirs = right_wrong(r, o)
        st.markdown(f"**{model} right, {other} wrong: {len(mine)} images**")
        image_grid(
            mine[:SIDE_BY_SIDE],
            ds.x_test,
            [f"#{i} {other}: {CLASS_NAMES[o.y_pred[i]]}" for i in mine[:SIDE_BY_SIDE]],
        )
        st.markdown(f"**{other} right, {model} wrong: {len(theirs)} images**")
        image_grid(
            theirs[:SIDE_BY_SIDE],
            ds.x_test,
            [f"#{i} {model}: {CLASS_NAMES[r.y_pred[i]]}" for i in theirs[:SIDE_BY_SIDE]],
        )

link.keep(model=model, true=CLASS_NAMES[true_c], pred=CLASS_NAMES[pred_c], vs=other)

st.subheader("Downloads")
d1, d2, d3, d4 = st.columns(4)
d1.download_button(
    "Confusion matrix (CSV)", matrix_csv(cm), f"{model}-confusion-matrix.csv", "text/csv"
)
d2.download_button(
    "Misclassified images (CSV)", misclassified_csv(r), f"{model}-misclassified.csv", "text/csv"
)
wrong = np.flatnonzero(~r.correct)
d4.download_button(
    f"The {len(wrong)} misclassified images (ZIP)",
    lambda: images_zip(wrong, ds.x_test, ds.y_test, r.y_pred, r.confidence),
    f"{model}-misclassified-images.zip",
    "application/zip",
)
vs = other
d3.download_button(
    "Report for people who were not here (HTML)" + (f", against {vs}" if vs else ""),
    report_maker(results[model].manifest, model, vs),
    f"{model}-report.html",
    "text/html",
    help="One file with every section of a model card: metrics with intervals, per-class "
    "results, the confusion matrix and its images, calibration, suspect labels, known limits"
    + (f", and the comparison with {vs}" if vs else "")
    + ". Opens in any browser without a network. Written in a second or two (the first one on a new server, up to 10 s).",
)
