"""Compare models: leaderboard, learning curves, k-fold spread, per-class accuracy, size."""

import pandas as pd
import streamlit as st

from fmnist_core.analysis.results import per_class_accuracy
from fmnist_core.figures.calibration import coverage_figure, reliability_figure
from fmnist_core.figures.comparison import (
    accuracy_tradeoff_figure,
    kfold_figure,
    learning_curves_figure,
    per_class_accuracy_figure,
)
from fmnist_core.ui.links import ViewLink, title_with_link
from fmnist_core.ui.loaders import (
    artifacts_or_stop,
    catalog_rows,
    predict_latencies,
    trained_results,
)
from fmnist_core.ui.streamlit_patches import run_through_app
from fmnist_core.ui.version_widgets import model_label, name_versions_in_use
from fmnist_core.ui.widgets import EMPTY_CELL, MODEL_TABLE_COLUMNS, interval_text

COST_CHOICES = {"parameters": "params", "Predict latency": "latency_ms", "file size": "megabytes"}

run_through_app()
title_with_link("Compare models")
st.markdown(
    "How the tutorials' models compare on the same 10,000 test images: what the tutorial "
    "reported against what we measured, how they learned, and where each one is strong. "
    "Models marked *beyond* are our own recipes, not a tutorial's."
)

name_versions_in_use()
results = trained_results(with_versions=True)  # active versions by name, others 'name@id'
catalog = {r["name"]: r for r in catalog_rows() if r["name"] in results}

st.subheader("Leaderboard")
board = pd.DataFrame(
    [
        {
            "Model": name,
            "Source": "beyond the tutorials" if r["beyond_tutorials"] else r["source"],
            "Parameters": r["params"],
            "Size (MB)": r["megabytes"],
            "Training (s)": r["training_seconds"],
            "Epochs": r["epochs"],
            "Augmented epochs": r["augment_epochs"],
            "Test accuracy": r["test_accuracy"] * 100,
            "95% interval": interval_text(results[name].accuracy_interval),
            "ECE": results[name].reliability.ece,
            "Test loss": r["test_loss"],
            "Tutorial reported": (r["reported_accuracy"] or 0) * 100 or None,
            "Difference (points)": r["difference"] * 100 if r["difference"] is not None else None,
        }
        for name, r in catalog.items()
    ]
).sort_values("Test accuracy", ascending=False)
st.dataframe(
    board,
    hide_index=True,
    width="stretch",
    column_config=MODEL_TABLE_COLUMNS,
    placeholder=EMPTY_CELL,
)
st.caption(
    "**95% interval**: where the accuracy would likely land on another 10,000 images like "
    "these (bootstrap); two models whose intervals overlap may not really differ: the "
    "Confusion page's two-model view tests it. **ECE**: how far the models' confidence is "
    "from how often they are right (0 = perfectly calibrated; see below)."
)

st.subheader("Learning curves")
names = [n for n in results if "@" not in n]
# the link: /compare?models=cnn1,cnn4@<version>&metric=loss (the Models page's "Compare"
# button links two versions of one model this way)
link = ViewLink("compare")
linked_model = ViewLink.model(results, {a.ref: a.name for a in artifacts_or_stop()})
link.start("curve_models", names[: min(4, len(names))], "models", linked_model, many=True)
st.session_state["curve_models"] = [m for m in st.session_state["curve_models"] if m in results]
link.start("curve_metric", "accuracy", "metric", ViewLink.one_of(["accuracy", "loss"]))
link.say_what_was_ignored()
chosen = st.multiselect(
    "Models (and other versions of them)",
    list(results),
    key="curve_models",
    format_func=model_label,
)
left, right = st.columns([1, 2])
metric = left.segmented_control("Metric", ["accuracy", "loss"], key="curve_metric")
link.keep(models=chosen or None, metric=metric or "accuracy")
smoothing = right.slider("Smoothing", 0.0, 0.95, 0.0, 0.05, key="curve_smoothing")
if chosen:
    st.plotly_chart(
        learning_curves_figure(
            {n: results[n].manifest["history"] for n in chosen}, metric or "accuracy", smoothing
        ),
        width="stretch",
    )
    untrained = [n for n in chosen if not results[n].manifest.get("history")]
    st.caption(
        "Dashed: training; solid: validation; star: the epoch with the lowest validation loss; "
        "dotted line: where the augmented epochs begin."
        + (f" No curve for {', '.join(untrained)}: it trains nothing." if untrained else "")
    )

folds = {
    n: [f["val_accuracy"] for f in r.manifest["kfold"]["folds"]]
    for n, r in results.items()
    if r.manifest.get("kfold")
}
st.subheader("k-fold cross-validation")
if folds:
    st.plotly_chart(kfold_figure(folds), width="stretch")
else:
    st.caption(
        "No model was trained with k-fold yet: `python -m fmnist_core train baseline --kfold 5`."
    )

st.subheader("Per-class accuracy")
st.plotly_chart(
    per_class_accuracy_figure(
        {n: per_class_accuracy(results[n].confusion()) for n in (chosen or names)}
    ),
    width="stretch",
)

st.subheader("Can its confidence be believed?")
st.caption(
    "When a model says it is 90% sure, is it right 90% of the time? And how much could it "
    'answer if it said "not sure" below a confidence? (ECE in the leaderboard above.)'
)
# drawn on request: two more charts made every visit to the page 0.7 s slower
if st.toggle("Show calibration: reliability diagram and abstention", key="show_calibration"):
    shown = chosen or names
    cal_left, cal_right = st.columns(2)
    with cal_left:
        st.plotly_chart(
            reliability_figure({n: results[n].reliability for n in shown}), width="stretch"
        )
        st.caption(
            "Each point: the test images a model was about equally sure of. On the dotted line, "
            '"90% sure" means right 90% of the time; below it the model is over-confident. '
            "Temperature scaling (one number per model, fitted on held-out images) softens or "
            "sharpens the probabilities without changing any answer."
        )
    with cal_right:
        target = st.slider("Accuracy to keep", 0.90, 0.995, 0.95, 0.005, key="coverage_target",
                           format="%.3f")  # fmt: skip
        st.plotly_chart(
            coverage_figure({n: results[n].coverage for n in shown}, target), width="stretch"
        )
    rows = []
    for n in shown:
        covered, threshold = results[n].coverage.at_accuracy(target)
        entry = results[n].calibration
        rows.append({
            "Model": n,
            f"Answers at {target:.1%} accuracy": f"{covered:.1%}",
            "when at least this sure": f"{threshold:.1%}" if covered else "never reaches it",
            "ECE": round(results[n].reliability.ece, 4),
            "Temperature": entry.get("temperature"),
            "ECE after scaling": entry.get("ece_scaled"),
        })  # fmt: skip
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption(
        'A model may abstain (say "not sure") below a confidence: the share of test images it '
        "still answers while keeping the chosen accuracy. Temperatures were fitted on each "
        "recipe's validation split, or cross-fitted on halves of the test set for the recipes "
        "that trained on all 60,000 images."
    )

st.subheader("What each point of accuracy costs")
cost = st.segmented_control(
    "Against",
    list(COST_CHOICES),
    default="parameters",
    key="tradeoff_cost",
    help="Predict latency is measured on this server the first time it is asked for: one "
    "image at a time, as the Predict page sends them (median of 25).",
)
points = list(catalog.values())  # one point per model (its version in use)
cost_key = COST_CHOICES[cost or "parameters"]
if cost_key == "latency_ms":
    latency = predict_latencies()
    points = [{**row, "latency_ms": latency.get(row["name"])} for row in points]
st.plotly_chart(accuracy_tradeoff_figure(points, cost_key), width="stretch")
st.caption(
    "Outlined markers are on the **Pareto front**: no other model is both more accurate and "
    "cheaper. Models off the front pay more for less; the step line shows what the next point "
    "of accuracy costs."
)
