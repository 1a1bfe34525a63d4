"""The ensemble: one self-contained Keras model averaging the probabilities of chosen models.

Its members are trained models (the shipped ones when it is made for `assets/models`). Which
members is chosen on the validation split, among the models that never trained on it: every
subset of two or more is scored by its averaged probabilities' validation accuracy (ties go to
the lower validation loss, then to fewer members). The test set plays no part in the choice.
The saved file holds the members' networks inside one functional model, so it loads with
plain Keras in safe mode like every other model.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core.artifacts import Artifact, load_artifact
from fmnist_core.errors import FmnistError

# Members are chosen among these many subsets at most (2^n - n - 1 for n candidates).
MAX_CANDIDATES = 10


class EnsembleError(FmnistError):
    """No ensemble can be made (too few trained models held out the validation split)."""


@dataclass
class Selection:
    members: list[str]
    val_accuracy: float
    val_loss: float
    candidates: list[str]  # the models that could be members
    sources: dict[str, dict]  # each member's version and model file checksum
    skipped: dict[str, str]  # other trained models and why they could not
    ranking: list[dict[str, Any]]  # the best subsets, for the manifest


def held_out_from(manifest: dict, *, split_seed: int, limit: int | None, seed: int) -> str:
    """'' when the validation split of (split_seed, limit, seed) was held out from the model
    that `manifest` describes; else why not, in a few words."""
    if manifest.get("validation") != "split":
        return "trained on all 60,000 training images"
    if manifest.get("recipe", {}).get("split_seed") != split_seed:
        return "held out a different validation split"
    if manifest.get("limit") != limit or (limit and manifest.get("seed") != seed):
        return "trained on a different subset"
    if manifest.get("kfold"):
        return "its k-fold runs saw every training image"
    return ""


def member_artifacts(names: list[str], root: Path | None) -> dict[str, Artifact]:
    """The trained models the ensemble may draw on: those in `root` (how the shipped
    ensemble is made from the shipped models), else each model's active version."""
    from fmnist_core.artifacts import find_artifact

    found = {}
    for name in names:
        art = load_artifact(name, root, "shipped") if root is not None else find_artifact(name)
        if art is not None:
            found[name] = art
    return found


def _log_loss(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0))))


def choose_members(
    val_probs: dict[str, np.ndarray], y_val: np.ndarray
) -> tuple[list[str], list[dict]]:
    """The subset (two or more) whose averaged probabilities score best on the validation
    split, and the ten best subsets with their scores."""
    names = list(val_probs)
    if len(names) < 2:
        raise EnsembleError("an ensemble needs at least two models")
    scored = []
    for k in range(2, len(names) + 1):
        for subset in itertools.combinations(names, k):
            mean = np.mean([val_probs[n] for n in subset], axis=0)
            acc = float(np.mean(mean.argmax(1) == y_val))
            scored.append((-acc, _log_loss(mean, y_val), k, list(subset)))
    scored.sort(key=lambda s: (s[0], s[1], s[2]))
    ranking = [
        {"members": s[3], "val_accuracy": round(-s[0], 5), "val_loss": round(s[1], 5)}
        for s in scored[:10]
    ]
    return scored[0][3], ranking


def average_model(models: dict[str, Any], name: str = "ensemble"):
    """One Keras model: the same pixels into every member, their probabilities averaged."""
    import keras

    inputs = keras.Input(shape=(28, 28, 1), name="pixels")
    outputs = []
    for member_name, model in models.items():
        member = keras.Model(model.inputs[0], model.outputs[0], name=member_name)
        outputs.append(member(inputs))
    mean = keras.layers.Average(dtype="float32", name="probabilities")(outputs)
    return keras.Model(inputs, mean, name=name)


def assemble(
    candidates: list[str],
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    root: Path | None,
    split_seed: int,
    limit: int | None,
    seed: int,
    progress=None,
):
    """Choose the members on the validation split and build the averaging model.
    Returns (model, Selection, seconds)."""
    from fmnist_core.evaluate import predict_probabilities

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
    members, ranking = choose_members(val_probs, y_val)
    selection = Selection(
        members=members,
        val_accuracy=ranking[0]["val_accuracy"],
        val_loss=ranking[0]["val_loss"],
        candidates=list(usable),
        sources={
            n: {
                "version": usable[n].version or usable[n].origin,
                "sha256": usable[n].manifest.get("files", {}).get("model.keras", {}).get("sha256"),
            }
            for n in members
        },  # fmt: skip
        skipped=skipped,
        ranking=ranking,
    )
    model = average_model({n: models[n] for n in members})
    return model, selection, time.perf_counter() - start


def members_of(model) -> list[str]:
    """The names of an ensemble model's members (nested models), [] for any other model."""
    import keras

    return [layer.name for layer in model.layers if isinstance(layer, keras.Model)]
