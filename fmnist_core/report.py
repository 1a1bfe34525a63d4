"""A report a product manager can hand over: one self-contained HTML file per model (every
figure and image embedded, plotly's script inline, nothing fetched when it opens), in the
sections of a model card, with an optional comparison against a second model."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import html
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from fmnist_core.analysis.evaluate import predict_probabilities
from fmnist_core.analysis.predict import reads_drawings
from fmnist_core.analysis.results import ModelResults, top_confusions
from fmnist_core.analysis.significance import mcnemar
from fmnist_core.atomic import write_bytes_atomic
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.contracts import model_sha256
from fmnist_core.data.fashion_mnist import load_dataset, stratified_subset
from fmnist_core.data.gallery import png_data_uri, tile
from fmnist_core.data.preprocess import preprocess
from fmnist_core.data.user_pictures import PICTURE_SETS, render_set
from fmnist_core.figures.calibration import reliability_figure
from fmnist_core.figures.confusion import confusion_figure
from fmnist_core.models import ModelSpec, get_spec, recipe_in_words
from fmnist_core.paths import cache_dir
from fmnist_core.quality.label_issues import test_suspects
from fmnist_core.versions import Artifact, available_artifacts, trained_artifact

SECTIONS = [
    "Intended use",
    "Data",
    "Training recipe",
    "Metrics",
    "Per-class results",
    "Confusion matrix",
    "Top confusions",
    "Calibration",
    "Suspect labels",
    "Known limits",
]
COMPARISON = "Comparison"

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;
padding-bottom:.2em;margin-top:1.8em}table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}.muted{color:#666;font-size:.92em}
img.px{image-rendering:pixelated}.pair{display:flex;gap:1em;align-items:center;margin:.5em 0}
"""


@dataclass
class ReportInputs:
    results: ModelResults
    x_test: np.ndarray
    suspect_indices: np.ndarray  # the test set's suspect labels (label_issues.test_suspects)
    picture_sets: dict[str, float] | None = None  # accuracy on pictures people make, by set
    other: ModelResults | None = None


def _img(image: np.ndarray, width: int, alt: str) -> str:
    return f'<img class="px" src="{png_data_uri(image)}" width="{width}" alt="{html.escape(alt)}">'


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


class _Figures:
    """Plotly figures as HTML: the first carries plotly.js inline, the rest reuse it."""

    def __init__(self):
        self.first = True

    def __call__(self, fig) -> str:
        out = fig.to_html(full_html=False, include_plotlyjs=self.first,
                          config={"displayModeBar": False})  # fmt: skip
        self.first = False
        return out


def build_report(inputs: ReportInputs) -> str:
    """The report as one HTML page: a heading, the model card's SECTIONS in order, and the
    comparison when there is a second model."""
    r = inputs.results
    spec = get_spec(r.name)
    figure = _Figures()  # the first figure written carries plotly.js: write them in page order
    bodies = {
        "Intended use": _intended_use(r, spec),
        "Data": _data(r),
        "Training recipe": _training_recipe(r, spec),
        "Metrics": _metrics(r, spec),
        "Per-class results": _per_class_results(r),
        "Confusion matrix": figure(confusion_figure(r.confusion(), False)),
        "Top confusions": _confusion_examples(r, inputs.x_test),
        "Calibration": _calibration(r, figure),
        "Suspect labels": _suspect_labels(r, inputs.x_test, inputs.suspect_indices),
        "Known limits": _known_limits(inputs.picture_sets),
    }
    sections = [_section(title, bodies[title]) for title in SECTIONS]
    if inputs.other is not None:
        sections.append(_section(COMPARISON, _comparison(r, inputs.other, figure)))
    return _page(f"Model report: {r.name}", _heading(r, spec) + "".join(sections))


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _section(title: str, body: str) -> str:
    return f'<section id="{title.lower().replace(" ", "-")}"><h2>{title}</h2>{body}</section>'


def _heading(r: ModelResults, spec: ModelSpec) -> str:
    """The title, the version and when it was trained, and when the report was written."""
    m = r.manifest
    version = m.get("version_id") or "shipped"
    created = m.get("created_utc", "unknown")
    beyond = "beyond the tutorials" if spec.beyond_tutorials else f"tutorial {spec.tutorial}"
    return (
        f"<h1>Model report: {html.escape(r.name)}</h1>"
        f'<p class="muted">Version {html.escape(version)}, trained {html.escape(created)} '
        f"({html.escape(beyond)}). Report written "
        f"{dt.datetime.now(dt.UTC).isoformat(timespec='minutes')} by the Fashion-MNIST CNN "
        "Explorer.</p>"
    )


def _intended_use(r: ModelResults, spec: ModelSpec) -> str:
    return (
        f"<p>{html.escape(spec.description or r.name)} It classifies 28x28 grey images of a "
        "single clothing item, light on black, into the ten Fashion-MNIST classes "
        f"({', '.join(CLASS_NAMES)}). It is a teaching and demonstration model: it was never "
        "tested on real shop photographs, and its answers on drawings, clip art and photos "
        "taken by people differ (see Known limits).</p>"
    )


def _data(r: ModelResults) -> str:
    m = r.manifest
    return (
        f"<p>Fashion-MNIST (Zalando): {m.get('n_train', 0):,} training images, "
        f"{m.get('n_val', 0):,} validation images ({html.escape(str(m.get('validation')))}), "
        f"{len(r.y_true):,} test images, 1,000 of each class. Dataset checksum "
        f"<code>{html.escape(str(m.get('dataset_checksum', ''))[:16])}</code>"
        + ("" if m.get("dataset_is_original", True) else " (<b>not</b> the original files)")
        + ".</p>"
    )


def _training_recipe(r: ModelResults, spec: ModelSpec) -> str:
    """The recipe the manifest recorded, in words, and where and how long it trained."""
    m = r.manifest
    recipe = spec.recipe.__class__(**{
        k: v for k, v in m.get("recipe", {}).items() if k in spec.recipe.as_dict()
    })  # fmt: skip
    return (
        f"<p>{html.escape(recipe_in_words(recipe))}</p>"
        f'<p class="muted">{m.get("params", 0):,} parameters; trained in '
        f"{m.get('training_seconds', 0):,.0f} s on {html.escape(str(m.get('device')))} "
        f"({html.escape(str(m.get('backend')))}).</p>"
    )


def _metrics(r: ModelResults, spec: ModelSpec) -> str:
    m, acc = r.manifest, r.accuracy_interval
    return _table(
        ["Metric", "Value", "95% interval"],
        [["Test accuracy", f"{acc.value:.2%}", f"{acc.low:.2%} to {acc.high:.2%}"],
         ["Test loss (cross-entropy)", f"{m.get('test_loss', float('nan')):.4f}", ""],
         ["Expected calibration error", f"{r.reliability.ece:.4f}", ""]]
        + ([["Tutorial reported accuracy", f"{spec.reported_accuracy:.2%}", ""]]
           if spec.reported_accuracy else []),
    ) + '<p class="muted">Intervals: 2,000 bootstrap resamples of the test set.</p>'  # fmt: skip


def _per_class_results(r: ModelResults) -> str:
    recalls = r.recall_intervals
    return _table(
        ["Class", "Precision", "Recall", "Recall 95% interval", "F1"],
        [[c, f"{s['precision']:.3f}", f"{s['recall']:.3f}",
          f"{recalls[i].low:.3f} to {recalls[i].high:.3f}", f"{s['f1']:.3f}"]
         for i, (c, s) in enumerate(r.scores().items())],
    )  # fmt: skip


def _confusion_examples(r: ModelResults, x_test: np.ndarray) -> str:
    """The five commonest confusions, each in words and with its most confident mistakes."""
    pairs = []
    for c in top_confusions(r.confusion(), 5):
        cell = r.cell(c.true, c.predicted)[:6]
        pairs.append(
            f'<div class="pair"><div>{html.escape(c.sentence())}</div>'
            f"{_img(tile(x_test[cell], cols=6, scale=2), 6 * 56 + 14, c.sentence())}</div>"
        )
    return "".join(pairs) + (
        '<p class="muted">The most confident mistakes of each kind, left to right.</p>'
    )


def _calibration(r: ModelResults, figure: _Figures) -> str:
    cal = r.calibration
    scaled_ece = (
        f" Temperature scaling with T = {cal['temperature']:.3f} (fitted on "
        f"{html.escape(cal['fitted_on'])}) gives an ECE of {cal['ece_scaled']:.4f}; it changes no "
        "prediction."
        if cal
        else ""
    )
    covered, threshold = r.coverage.at_accuracy(0.95)
    return (
        figure(reliability_figure({r.name: r.reliability}))
        + f"<p>Expected calibration error {r.reliability.ece:.4f} (15 bins).{scaled_ece} "
        f"Answering only when at least {threshold:.1%} sure keeps 95% accuracy on "
        f"{covered:.1%} of the test set.</p>"
    )


def _suspect_labels(r: ModelResults, x_test: np.ndarray, suspect_indices: np.ndarray) -> str:
    """How the model does on the test images whose labels look wrong, and the accuracy
    without them."""
    sus = np.asarray(suspect_indices)
    wrong_on = int((~r.correct[sus]).sum()) if len(sus) else 0
    keep = np.ones(len(r.correct), bool)
    keep[sus] = False
    return (
        f"<p>{len(sus)} test images carry a label that the shipped models, together, find "
        f"improbable (confident learning). This model is wrong on {wrong_on} of them; without "
        f"them its accuracy is {r.correct[keep].mean():.2%}.</p>"
        + (_img(tile(x_test[sus[:16]], cols=8, scale=2), 8 * 56 + 18,
                "the most suspect test labels") if len(sus) else "")
        + '<p class="muted">The 16 most suspect, in order: '
        + ", ".join(f"#{i} labelled {CLASS_NAMES[r.y_true[i]]}" for i in sus[:16]) + ".</p>"
    )  # fmt: skip


def _known_limits(picture_sets: dict[str, float] | None) -> str:
    limits = (
        "<p>The model learned from product photos: one solid, shaded item in side profile, "
        "centred, light on black. Pictures people make differ, and accuracy drops:</p>"
    )
    if picture_sets:
        limits += _table(
            ["Pictures", "Accuracy"],
            [[k, f"{v:.1%}"] for k, v in picture_sets.items()],
        ) + ('<p class="muted">Measured on test images redrawn the way people draw and upload '
             "(bench/bench_drawings.py has the full benchmark).</p>")  # fmt: skip
    return limits


def _comparison(r: ModelResults, o: ModelResults, figure: _Figures) -> str:
    """McNemar's test in words, the two models side by side, and where their confusions
    differ."""
    acc = r.accuracy_interval
    test = mcnemar(r.correct, o.correct, r.name, o.name)
    o_scores = o.scores()
    return (
        f"<p><b>{html.escape(test.in_words())}</b></p>"
        + _table(
            ["", r.name, o.name],
            [["Test accuracy", f"{acc.value:.2%}", f"{o.accuracy_interval.value:.2%}"],
             ["95% interval", f"{acc.low:.2%} to {acc.high:.2%}",
              f"{o.accuracy_interval.low:.2%} to {o.accuracy_interval.high:.2%}"],
             ["ECE", f"{r.reliability.ece:.4f}", f"{o.reliability.ece:.4f}"]]
            + [[f"Recall: {c}", f"{s['recall']:.3f}", f"{o_scores[c]['recall']:.3f}"]
               for c, s in r.scores().items()],
        )
        + figure(confusion_figure(o.confusion() - r.confusion(), False,
                                  title=f"{o.name} minus {r.name}", diverging=True))
    )  # fmt: skip


_PICTURE_INPUTS: dict[tuple, dict[str, tuple[np.ndarray, np.ndarray | None]]] = {}


def picture_set_inputs(
    x_test, y_test, n: int = 200
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """The n stratified test images redrawn as each kind of picture people make and
    preprocessed: (model inputs, inputs as drawn or None) per kind. The same for every model:
    made once, kept in this process and on disk (<cache>/reports/picture-sets-*.npz, named by
    a digest of the images), so a report's Known limits section only predicts. Rendering them
    took about 9 s of a report's 10 on 2 cores."""
    idx = stratified_subset(y_test, n, seed=0)
    digest = _sample_digest(x_test, y_test, n)
    key = (digest, n, tuple(PICTURE_SETS))
    kept = _PICTURE_INPUTS.get(key)
    if kept is not None:
        return kept
    path = cache_dir() / "reports" / f"picture-sets-{n}-{digest}.npz"
    kept = _read_inputs(path, list(PICTURE_SETS))
    if kept is None:
        kept = {}
        for kind in PICTURE_SETS:
            preps = [preprocess(p) for p in render_set(kind, x_test[idx], seed=1)]
            images = np.stack([p.image for p in preps])
            drawn = None
            if any(p.as_drawn is not None for p in preps):
                drawn = np.stack([p.image if p.as_drawn is None else p.as_drawn for p in preps])
            kept[kind] = (images, drawn)
        _write_inputs(path, kept)
    _PICTURE_INPUTS[key] = kept
    return kept


def _sample_digest(x_test, y_test, n: int) -> str:
    """Names the n stratified test images the picture sets are made from."""
    idx = stratified_subset(y_test, n, seed=0)
    return hashlib.blake2b(
        np.ascontiguousarray(x_test[idx]).tobytes() + np.asarray(y_test[idx]).tobytes(),
        digest_size=8,
    ).hexdigest()


def _read_inputs(path, kinds: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray | None]] | None:
    """The kept inputs, or None when missing, unreadable or of other kinds (made afresh)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if sorted(k for k in data.files if k.startswith("images:")) != sorted(
                f"images:{k}" for k in kinds
            ):
                return None
            return {k: (data[f"images:{k}"], data[f"drawn:{k}"] if f"drawn:{k}" in data.files
                        else None) for k in kinds}  # fmt: skip
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def _write_inputs(path, inputs: dict[str, tuple[np.ndarray, np.ndarray | None]]) -> None:
    arrays: dict[str, Any] = {f"images:{k}": images for k, (images, _) in inputs.items()}
    arrays.update({f"drawn:{k}": drawn for k, (_, drawn) in inputs.items() if drawn is not None})
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with contextlib.suppress(OSError):  # a read-only cache: made again next time
        write_bytes_atomic(path, buf.getvalue())


def picture_set_accuracy(
    name: str, model, x_test, y_test, n: int = 200, model_sha: str | None = None
) -> dict[str, float]:
    """The model's accuracy on n stratified test images as they are, and redrawn as each
    kind of picture people make (the Known limits section). `model` is the Keras model or a
    function that loads it. With `model_sha` (the model file's checksum) the figures are kept
    on disk (<cache>/reports/limits-*.json): a version's are computed once, not once per
    report (the robust model took 2.6 s over them on 2 cores)."""
    sets = picture_set_inputs(x_test, y_test, n)
    kept = None
    if model_sha:
        what = f"{model_sha}|{_sample_digest(x_test, y_test, n)}|{','.join(PICTURE_SETS)}"
        digest = hashlib.blake2b(what.encode(), digest_size=8).hexdigest()
        kept = cache_dir() / "reports" / f"limits-{name}-{digest}.json"
        with contextlib.suppress(OSError, ValueError):
            found = json.loads(kept.read_text())
            if isinstance(found, dict) and all(isinstance(v, float) for v in found.values()):
                return found
    out = _picture_set_accuracy(name, model() if callable(model) else model, x_test, y_test,
                                n, sets)  # fmt: skip
    if kept is not None:
        with contextlib.suppress(OSError):  # a read-only cache: computed again next time
            write_bytes_atomic(kept, json.dumps(out).encode())
    return out


def _picture_set_accuracy(name, model, x_test, y_test, n, sets) -> dict[str, float]:
    idx = stratified_subset(y_test, n, seed=0)
    labels = y_test[idx]
    # every input in one call: a call per set cost more in overhead than in predicting
    batches = [x_test[idx]]
    for images, drawn in sets.values():
        batches += [images] + ([drawn] if reads_drawings(name) and drawn is not None else [])
    probs = iter(np.split(predict_probabilities(model, np.concatenate(batches)), len(batches)))
    out = {"product photos (the test set)": float((next(probs).argmax(1) == labels).mean())}
    for kind, (_, drawn) in sets.items():
        p = next(probs)
        if reads_drawings(name) and drawn is not None:
            p = (p + next(probs)) / 2
        out[PICTURE_SETS[kind][1]] = float((p.argmax(1) == labels).mean())
    return out


def make_report(ref: str, other_ref: str | None = None, ds=None) -> str:
    """The report for a model (MODEL or MODEL@VERSION), optionally against a second one."""
    ds = ds or load_dataset()

    def results_for(r: str) -> tuple[ModelResults, Artifact]:
        art = trained_artifact(r)
        return ModelResults.from_artifact(art, ds.y_test), art

    results, art = results_for(ref)
    other = results_for(other_ref)[0] if other_ref else None
    shipped, _ = available_artifacts()
    suspects = test_suspects(ds.y_test, [a.test_probabilities() for a in shipped])
    sets = picture_set_accuracy(art.name, art.load_model, ds.x_test, ds.y_test,
                                model_sha=model_sha256(art.manifest))  # fmt: skip
    return build_report(ReportInputs(results, ds.x_test, suspects.indices, sets, other))
