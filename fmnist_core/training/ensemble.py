"""The ensemble: one self-contained Keras model averaging the probabilities of chosen models.

Its members are trained models (the shipped ones when it is made for `assets/models`). Which
members, and how much each counts, is chosen on the validation split, among the models that
never trained on it, by ensemble selection (Caruana et al., 2004): start from nothing, add
one model at a time (the same model may come back), each time the one whose addition gives
the most accurate average on the validation split, for STEPS steps; keep the best bag of at
least two different models. A model's weight is its share of the bag. Its file holds a copy
of every member, so the members' files may add up to MAX_MEGABYTES at most. (Not an
equal-weight average of a subset: with one member far ahead of the rest, every such average
scores below that member alone.) The test set plays no part in the choice. The saved file holds the
members' networks inside one functional model, so it loads with plain Keras in safe mode.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist_core.analysis.evaluate import predict_probabilities
from fmnist_core.contracts import (
    Manifest,
    MemberSource,
    ProgressFn,
    SelectionStep,
    model_megabytes,
    model_sha256,
    recipe_split_seed,
)
from fmnist_core.errors import FmnistError
from fmnist_core.models import average_model
from fmnist_core.versions import Artifact, find_artifact, load_artifact

# Members are chosen among these many subsets at most (2^n - n - 1 for n candidates).
MAX_CANDIDATES = 10


class EnsembleError(FmnistError):
    """No ensemble can be made (too few trained models held out the validation split)."""


@dataclass
class Selection:
    members: list[str]
    weights: dict[str, float]  # each member's share of the average (sums to 1)
    val_accuracy: float
    val_loss: float
    candidates: list[str]  # the models that could be members
    sources: dict[str, MemberSource]  # each member's version and model file checksum
    skipped: dict[str, str]  # other trained models and why they could not
    ranking: list[SelectionStep]  # each selection step: the model added, the scores


def held_out_from(manifest: Manifest, *, split_seed: int, limit: int | None, seed: int) -> str:
    """'' when the validation split of (split_seed, limit, seed) was held out from the model
    that `manifest` describes; else why not, in a few words."""
    if manifest.get("validation") != "split":
        return "trained on all 60,000 training images"
    if recipe_split_seed(manifest) != split_seed:
        return "held out a different validation split"
    if manifest.get("limit") != limit or (limit and manifest.get("seed") != seed):
        return "trained on a different subset"
    if manifest.get("kfold"):
        return "its k-fold runs saw every training image"
    return ""


def member_artifacts(names: list[str], root: Path | None) -> dict[str, Artifact]:
    """The trained models the ensemble may draw on: those in `root` (how the shipped
    ensemble is made from the shipped models), else each model's active version."""
    found = {}
    for name in names:
        art = load_artifact(name, root, "shipped") if root is not None else find_artifact(name)
        if art is not None:
            found[name] = art
    return found


def _log_loss(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0))))


# Steps of ensemble selection: weights come in twentieths at the finest.
STEPS = 20
# The ensemble's file holds a copy of every member: its members' files may add up to this much
# (the shipped assets must stay within 40 MB; the other models take about 34).
MAX_MEGABYTES = 5.5


def choose_members(
    val_probs: dict[str, np.ndarray],
    y_val: np.ndarray,
    steps: int = STEPS,
    megabytes: dict[str, float] | None = None,
    max_megabytes: float | None = None,
) -> tuple[dict[str, float], list[SelectionStep]]:
    """Members and their weights (summing to 1) by ensemble selection with replacement on the
    validation split, and each step's pick and scores (for the manifest). Ties go to the lower
    validation loss, then to the earlier candidate. With `max_megabytes`, a model joins only if
    the members' files (`megabytes`) still fit."""
    names = list(val_probs)
    if len(names) < 2:
        raise EnsembleError("an ensemble needs at least two models")

    def fits(bag: list[str], name: str) -> bool:
        if max_megabytes is None or megabytes is None:
            return True
        return sum(megabytes.get(n, 0.0) for n in set(bag) | {name}) <= max_megabytes

    total = np.zeros_like(next(iter(val_probs.values())), dtype=np.float64)
    bag: list[str] = []
    trail: list[SelectionStep] = []
    best: tuple | None = None
    for step in range(1, steps + 1):
        scored = []
        for order, name in enumerate(names):
            if not fits(bag, name):
                continue
            mean = (total + val_probs[name]) / step
            acc = float(np.mean(mean.argmax(1) == y_val))
            scored.append((-acc, _log_loss(mean, y_val), order, name))
        neg_acc, loss, _, pick = min(scored)
        total += val_probs[pick]
        bag.append(pick)
        trail.append({"added": pick, "val_accuracy": round(-neg_acc, 5),
                      "val_loss": round(loss, 5)})  # fmt: skip
        if len(set(bag)) >= 2 and (best is None or (neg_acc, loss) < best[0]):
            best = ((neg_acc, loss), list(bag))
    if best is None:  # one model won every step: take the two best that fit, evenly
        first = trail[0]["added"]
        others = [n for n in names if n != first and fits([first], n)]
        if not others:
            raise EnsembleError("no two models fit the ensemble's size limit together")
        second = max(others, key=lambda n: np.mean(val_probs[n].argmax(1) == y_val))
        best = (None, [first, second])
    chosen = best[1]
    weights = {n: chosen.count(n) / len(chosen) for n in names if n in chosen}
    return weights, trail


def assemble(
    candidates: list[str],
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    root: Path | None,
    split_seed: int,
    limit: int | None,
    seed: int,
    progress: ProgressFn | None = None,
):
    """Choose the members on the validation split and build the averaging model.
    Returns (model, Selection, seconds)."""
    start = time.perf_counter()
    arts = member_artifacts(candidates, root)
    usable, skipped = {}, {}
    for name, art in arts.items():
        why = held_out_from(art.manifest, split_seed=split_seed, limit=limit, seed=seed)
        if why:
            skipped[name] = why
        else:
            usable[name] = art
    if len(usable) < 2:
        raise EnsembleError(
            "An ensemble is chosen on the validation split, and fewer than two trained models "
            f"held it out ({', '.join(usable) or 'none'}). Train two models that use the split "
            "first (for example cnn1 and peltarion)."
        )
    usable = dict(list(usable.items())[:MAX_CANDIDATES])
    models, val_probs = {}, {}
    for i, (name, art) in enumerate(usable.items()):
        models[name] = art.load_model()
        val_probs[name] = predict_probabilities(models[name], x_val)
        if progress is not None:
            progress({"event": "batch", "phase": "choose", "epoch": 1, "epochs": 1,
                      "batch": i + 1, "batches": len(usable), "logs": {}})  # fmt: skip
    sizes = {n: model_megabytes(art.manifest) for n, art in usable.items()}
    weights, trail = choose_members(val_probs, y_val, megabytes=sizes, max_megabytes=MAX_MEGABYTES)
    members = list(weights)
    mean = np.asarray(sum(weights[n] * val_probs[n] for n in members))
    selection = Selection(
        members=members,
        weights={n: round(w, 6) for n, w in weights.items()},
        val_accuracy=round(float(np.mean(mean.argmax(1) == y_val)), 5),
        val_loss=round(_log_loss(mean, y_val), 5),
        candidates=list(usable),
        sources={
            n: {
                "version": usable[n].version or usable[n].origin,
                "sha256": model_sha256(usable[n].manifest),
            }
            for n in members
        },  # fmt: skip
        skipped=skipped,
        ranking=trail,
    )
    model = average_model({n: models[n] for n in members}, weights)
    return model, selection, time.perf_counter() - start
