"""One row per registry model with what is known about it: the data behind `list` and the app."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fmnist_core.contracts import Manifest, model_megabytes
from fmnist_core.models import Recipe, get_spec, list_models, recipe_in_words, source_label
from fmnist_core.versions.artifact import Artifact
from fmnist_core.versions.history import artifact_status, list_versions

NEEDS_WEIGHTS = "needs ImageNet weights"


def model_catalog() -> list[dict[str, Any]]:
    """Registry order; status of the active version: trained (a run), shipped, missing,
    corrupt or NEEDS_WEIGHTS; `versions`: every version (versions.Version.as_json)."""
    rows = []
    for name in list_models():
        found, art, problem = artifact_status(name)
        rows.append(catalog_row(name, found, art, problem))
    return rows


def catalog_row(name: str, found: str, art: Artifact | None, problem: str = "") -> dict[str, Any]:
    """The catalog's row for one version of `name` (the one in use, or any other: a person's
    own run shown on their pages)."""
    spec = get_spec(name)
    status: str = found
    if status == "missing" and spec.needs_pretrained_weights:
        status = NEEDS_WEIGHTS
    m: Manifest = art.manifest if art else {}
    recipe = m.get("recipe") or spec.recipe.as_dict()
    acc, reported = m.get("test_accuracy"), spec.reported_accuracy
    return {
        "name": name,
        "tutorial": spec.tutorial,
        "source": source_label(name),
        "beyond_tutorials": spec.beyond_tutorials,
        "recipe_in_words": _recipe_words(spec, recipe, m),
        "description": spec.description,
        "status": status,
        "params": m.get("params"),
        "megabytes": model_megabytes(m) or None,
        "members": m.get("members"),
        "epochs": recipe["epochs"],
        "augment_epochs": recipe["augment_epochs"],
        "batch_size": recipe["batch_size"],
        "training_seconds": m.get("training_seconds"),
        "device": m.get("device"),
        "test_accuracy": acc,
        "test_loss": m.get("test_loss"),
        "reported_accuracy": reported,
        "reported_note": spec.reported_note,
        "difference": (acc - reported) if acc is not None and reported else None,
        "note": m.get("note") or None,
        "path": str(art.path) if art else None,
        "problem": problem or None,
        "version": art.version if art else None,
        "versions": [v.as_json() for v in list_versions(name)],
    }


def _recipe_words(spec, recipe: dict[str, Any], manifest: Manifest) -> str:
    if spec.assembled:
        weights: Mapping[str, float | None] = manifest.get("member_weights") or {
            n: None for n in manifest.get("members", [])
        }
        which = (
            ", ".join(f"{n} ({w:.0%})" if w is not None else n for n, w in weights.items())
            or "trained models"
        )
        return (
            f"the weighted average of {which}: members and weights chosen on the validation "
            "split; nothing more is trained"
        )
    return recipe_in_words(Recipe(**_known(recipe)))


def _known(recipe: dict[str, Any]) -> dict[str, Any]:
    """A stored recipe's fields that this version's Recipe knows (older manifests lack some)."""
    fields = Recipe.__dataclass_fields__
    return {k: v for k, v in recipe.items() if k in fields}
