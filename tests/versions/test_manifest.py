"""Every shipped manifest against the Manifest type (contracts.py), and the manifest look-ups
on them: a key the type does not declare, a value of another type, a missing required key or
a look-up that reads the wrong entry fails here."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from fmnist_core import contracts
from fmnist_core.contracts import (
    Manifest,
    ProgressEvent,
    model_file,
    model_megabytes,
    model_sha256,
    model_size,
    recipe_split_seed,
    starter,
    step,
)
from fmnist_core.models import Recipe
from fmnist_core.versions import (
    MODEL_FILE,
    PROBS_FILE,
    file_sha256,
    load_artifact,
    shipped_models_dir,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "assets" / "models").glob("*/manifest.json"))
# What every shipped manifest has (the type leaves all keys optional: older runs lack some).
ALWAYS = {
    "name", "description", "tutorial", "reported_accuracy", "recipe", "seed", "limit",
    "n_train", "n_val", "validation", "dataset_checksum", "history", "created_utc",
    "test_accuracy", "test_loss", "per_class", "confusion_matrix", "calibration",
    "manifest_version", "files",
}  # fmt: skip


def problems(value: Any, tp: Any, where: str = "manifest") -> list[str]:
    """Where `value` (parsed JSON) departs from the type `tp`; [] when it conforms."""
    if tp is Any:
        return []
    if tp is None or tp is type(None):
        return [] if value is None else [f"{where}: {value!r} is not None"]
    if is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} is not a {tp.__name__}"]
        hints = get_type_hints(tp)
        out = [f"{where}: {k!r} is not a key of {tp.__name__}" for k in value if k not in hints]
        out += [f"{where}: {tp.__name__} needs {k!r}" for k in tp.__required_keys__
                if k not in value]  # fmt: skip
        for k, v in value.items():
            if k in hints:
                out += problems(v, hints[k], f"{where}.{k}")
        return out
    origin = get_origin(tp)
    if origin is Literal:
        return [] if value in get_args(tp) else [f"{where}: {value!r} not in {get_args(tp)}"]
    if origin in (Union, types.UnionType):
        found = [problems(value, option, where) for option in get_args(tp)]
        return [] if any(not f for f in found) else [f"{where}: {value!r} is not a {tp}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__} is not a list"]
        (item,) = get_args(tp)
        return [p for i, v in enumerate(value) for p in problems(v, item, f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} is not a dict"]
        key, item = get_args(tp)
        return [p for k, v in value.items()
                for p in problems(k, key, f"{where} key") + problems(v, item, f"{where}[{k!r}]")]  # fmt: skip
    if tp is float:  # JSON writes 1.0 as 1
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, tp)
    return [] if ok else [f"{where}: {value!r} is not a {tp.__name__}"]


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_the_models_ship_with_manifests():
    assert len(SHIPPED) >= 10


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_a_shipped_manifest_is_a_manifest(path):
    m = _read(path)
    assert problems(m, Manifest) == []
    assert set(m) >= ALWAYS, sorted(ALWAYS - set(m))
    assert m["name"] == path.parent.name
    assert {MODEL_FILE, PROBS_FILE} <= set(m["files"])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_a_shipped_recipe_is_a_recipe(path):
    """Manifest.recipe is Recipe.as_dict(): Recipe's fields, with their types."""
    recipe = _read(path)["recipe"]
    assert problems(recipe, _recipe_type()) == []
    Recipe(**recipe)  # and the registry's Recipe takes it back


def _recipe_type() -> Any:
    """Recipe's fields as a TypedDict, for `problems`."""
    return typing.TypedDict("RecipeFields", get_type_hints(Recipe), total=False)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_the_look_ups_read_a_shipped_manifest_and_its_files(path):
    folder = path.parent
    m = _read(path)
    model = folder / MODEL_FILE
    assert model_file(m) == m["files"][MODEL_FILE]
    assert model_size(m) == model.stat().st_size
    assert model_megabytes(m) == pytest.approx(model.stat().st_size / 1e6)
    assert model_sha256(m) == file_sha256(model)
    assert recipe_split_seed(m) == m["recipe"]["split_seed"]
    who = starter(m)
    assert who == m.get("started_by")
    if who is not None:
        assert who["via"] in ("cli", "app")
    # the same manifest, read as an artifact
    art = load_artifact(folder.name, shipped_models_dir(), "shipped")
    assert art is not None and art.manifest == m and art.origin == "shipped"


def test_the_look_ups_on_a_manifest_without_them():
    for m in ({}, {"files": {}}, {"files": {PROBS_FILE: {"size": 1, "sha256": "x"}}}):
        assert model_file(m) is None and model_size(m) is None and model_sha256(m) is None
        assert model_megabytes(m) == 0.0
    assert recipe_split_seed({}) is None and recipe_split_seed({"recipe": {}}) is None
    assert starter({}) is None and starter({"name": "cnn1"}) is None


@pytest.mark.parametrize(
    "manifest",
    [
        {"unknown": 1},  # a key the type does not declare
        {"test_accuracy": "0.9"},  # a number as text
        {"seed": True},  # a bool is no int
        {"validation": "holdout"},  # not one of the Literal's values
        {"files": {MODEL_FILE: {"size": 10}}},  # a FileEntry without its sha256
        {"files": {MODEL_FILE: {"size": 10, "sha256": "x", "md5": "y"}}},
        {"started_by": {"name": "Ann", "via": "email", "session": ""}},
        {"history": [{"loss": "low"}]},
        {"calibration": {"temperature": 1.0}},  # the other entries missing
        {"limit": 1.5},
    ],
)
def test_the_check_finds_what_departs_from_the_type(manifest):
    assert problems(manifest, Manifest)


def test_a_step_event_is_a_progress_event():
    assert problems(step(0.5, "half way"), ProgressEvent) == []
    assert problems({"event": "batch", "epoch": 1, "epochs": 2, "batch": 3, "batches": 4,
                     "phase": "plain", "logs": {"loss": 0.5}}, ProgressEvent) == []  # fmt: skip
    assert problems({"event": "stepping"}, ProgressEvent)
    assert problems({"fraction": 0.5, "message": "which kind?"}, ProgressEvent)  # no "event"


def test_the_fixed_choices_match_the_code():
    from fmnist_core.analysis import embeddings
    from fmnist_core.explain import attribution
    from fmnist_core.training import engine

    assert set(embeddings.METHODS) == set(get_args(contracts.EmbeddingMethod))
    assert set(attribution.METHODS) == set(get_args(contracts.AttributionMethod))
    assert set(engine.PRECISIONS) == set(get_args(contracts.Precision))
