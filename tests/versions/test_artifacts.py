"""Artifacts: atomic writes, verified loads, clear reports of damage; the shipped models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from fmnist_core import versions
from fmnist_core.analysis.evaluate import evaluate_probabilities, predict_probabilities
from fmnist_core.models import create_model, get_spec, list_models
from fmnist_core.versions import ArtifactError, find_artifact, load_artifact, save_artifact
from fmnist_core.versions import artifact as fa

ROOT = Path(__file__).resolve().parents[2]
SHIPPABLE = [n for n in list_models() if not get_spec(n).needs_pretrained_weights]


@pytest.fixture()
def small_model():
    return create_model("twoconv")


def _save(root, model, tag):
    probs = np.full((10000, 10), 0.1, dtype=np.float32)
    return save_artifact("twoconv", model, {"name": "twoconv", "tag": tag}, probs, root=root)


def test_save_then_load_round_trip(tmp_path, small_model):
    art = _save(tmp_path, small_model, "a")
    loaded = load_artifact("twoconv", tmp_path, "user")
    assert loaded.manifest["tag"] == "a"
    assert set(os.listdir(art.path)) == {"model.keras", "manifest.json", "test_probs.npy"}
    model = loaded.load_model()
    x = np.full((1, 28, 28, 1), 200.0, np.float32)
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(small_model(x)), atol=1e-6)
    assert loaded.test_probabilities().shape == (10000, 10)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_interrupted_save_leaves_the_previous_artifact(tmp_path, small_model, monkeypatch):
    _save(tmp_path, small_model, "old")

    def crash(*a, **k):
        raise KeyboardInterrupt  # as if the process were stopped mid-write

    monkeypatch.setattr(fa, "file_sha256", crash)
    with pytest.raises(KeyboardInterrupt):
        _save(tmp_path, small_model, "new")
    monkeypatch.undo()
    art = load_artifact("twoconv", tmp_path, "user")
    assert art.manifest["tag"] == "old"
    art.load_model()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.slow
def test_killed_writer_never_leaves_a_loadable_half_artifact(tmp_path):
    """kill -9 in the middle of a save: the folder that exists is complete or absent."""
    script = textwrap.dedent("""
        import os, signal, sys, numpy as np
        from fmnist_core.versions import artifact as artifacts
        from fmnist_core.models import create_model
        real = artifacts.file_sha256
        def die(path):
            os.kill(os.getpid(), signal.SIGKILL)
        artifacts.file_sha256 = die
        artifacts.save_artifact("twoconv", create_model("twoconv"), {"name": "twoconv"},
                                np.zeros((10000, 10), np.float32), root=sys.argv[1])
    """)
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT,
                         capture_output=True, timeout=120)  # fmt: skip
    assert out.returncode == -9
    assert load_artifact("twoconv", tmp_path, "user") is None  # nothing that looks complete
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert leftovers and all(n.startswith(".tmp-") for n in leftovers)


def test_crash_between_the_two_renames_is_recovered(tmp_path, small_model):
    art = _save(tmp_path, small_model, "old")
    os.replace(art.path, tmp_path / ".old-twoconv-deadbeef")  # the first rename happened
    recovered = load_artifact("twoconv", tmp_path, "user")
    assert recovered is not None and recovered.manifest["tag"] == "old"


def test_folder_without_manifest_is_reported_not_loaded(tmp_path, small_model):
    art = _save(tmp_path, small_model, "a")
    (art.path / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="incomplete"):
        load_artifact("twoconv", tmp_path, "user")


def test_truncated_model_file_is_reported(tmp_path, small_model):
    art = _save(tmp_path, small_model, "a")
    f = art.path / "model.keras"
    f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(ArtifactError, match="truncated"):
        load_artifact("twoconv", tmp_path, "user")


def test_tampered_model_file_fails_its_checksum(tmp_path, small_model):
    art = _save(tmp_path, small_model, "a")
    f = art.path / "model.keras"
    raw = bytearray(f.read_bytes())
    raw[-100] ^= 0xFF  # same size, other bytes
    f.write_bytes(bytes(raw))
    art = load_artifact("twoconv", tmp_path, "user")
    with pytest.raises(ArtifactError, match="checksum"):
        art.load_model()


def test_a_saved_run_is_a_version_beside_the_shipped_one(isolated_cache, small_model):
    before = find_artifact("twoconv")
    art = versions.save_version(
        "twoconv", small_model, {"name": "twoconv"}, np.full((10000, 10), 0.1, np.float32)
    )
    assert art.origin == "user" and art.manifest["version_id"] == art.version
    assert art.path == isolated_cache / "versions" / "twoconv" / art.version
    # the shipped version is still the one in use, untouched
    assert find_artifact("twoconv").path == before.path and before.origin == "shipped"
    assert versions.artifact_status("twoconv")[0] == "shipped"
    assert find_artifact(art.ref).path == art.path


# --------------------------------------------------------------------------- shipped models


@pytest.mark.parametrize("name", SHIPPABLE)
def test_every_cpu_model_is_shipped(name):
    art = load_artifact(name, fa.shipped_models_dir(), "shipped")
    assert art is not None, f"assets/models/{name} is missing: run tools/train_shipped.sh {name}"
    m = art.manifest
    for key in ("recipe", "seed", "dataset_checksum", "library_versions", "device", "backend",
                "training_seconds", "params", "history", "test_accuracy", "test_loss",
                "per_class", "confusion_matrix", "reported_accuracy"):  # fmt: skip
        assert key in m, key
    assert m["dataset_is_original"] and m["limit"] is None
    if m["reported_accuracy"] is None:  # our own recipe: no tutorial figure to match
        assert m["tutorial"] == "Beyond the tutorials"
        return
    gap = m["test_accuracy"] - m["reported_accuracy"]
    assert gap >= -0.015 or m.get("note"), (
        f"{name} is {-gap:.3f} below its tutorial and says nothing"
    )


@pytest.mark.parametrize("name", SHIPPABLE)
@pytest.mark.slow
def test_shipped_accuracy_equals_a_fresh_evaluation(name, real_dataset):
    art = load_artifact(name, fa.shipped_models_dir(), "shipped")
    if art is None:
        pytest.fail(f"assets/models/{name} is missing")
    probs = predict_probabilities(art.load_model(), real_dataset.x_test)
    fresh = evaluate_probabilities(probs, real_dataset.y_test)
    assert fresh["test_accuracy"] == pytest.approx(art.manifest["test_accuracy"], abs=0.001)
    assert fresh["confusion_matrix"] == art.manifest["confusion_matrix"] or (
        np.abs(np.array(fresh["confusion_matrix"]) - art.manifest["confusion_matrix"]).sum() <= 20
    )
    stored = art.test_probabilities()
    assert (stored.argmax(1) == probs.argmax(1)).mean() > 0.999


def test_assets_stay_small():
    total = sum(f.stat().st_size for f in fa.shipped_models_dir().rglob("*") if f.is_file())
    assert total <= 40 * 1024 * 1024


def test_manifests_are_plain_json():
    for manifest in fa.shipped_models_dir().glob("*/manifest.json"):
        json.loads(manifest.read_text())
