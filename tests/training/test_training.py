"""The training engine on small real subsets: learning, saving, reloading, k-fold, distribution."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from fmnist_core.data.fashion_mnist import stratified_subset
from fmnist_core.models import ModelSpec, get_spec, list_models
from fmnist_core.roles import MACHINE_OWNER
from fmnist_core.training import engine
from fmnist_core.training.run import TrainOptions, run_training

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def one_epoch_artifact(real_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    events = []
    art = run_training(
        "cnn1",
        TrainOptions(epochs=1, augment_epochs=0, limit=2000, seed=3),
        progress=events.append,
        root=root,
    )
    return art, events


def test_one_epoch_on_2000_real_images_beats_chance(one_epoch_artifact):
    art, _ = one_epoch_artifact
    m = art.manifest
    assert m["n_train"] == 1600 and m["n_val"] == 400
    assert m["test_accuracy"] > 0.5  # chance is 0.10
    assert len(m["history"]) == 1
    row = m["history"][0]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= set(row)
    assert np.array(m["confusion_matrix"]).sum() == 10000
    assert np.array(m["confusion_matrix"]).shape == (10, 10)
    assert set(m["per_class"]["Trouser"]) == {"precision", "recall", "f1", "support"}
    assert m["dataset_is_original"] and m["device"] == "CPU" and m["backend"] == "tensorflow"
    assert m["params"] == 693962 and m["reported_accuracy"] == get_spec("cnn1").reported_accuracy


def test_progress_reports_batches_epochs_and_the_end(one_epoch_artifact):
    _, events = one_epoch_artifact
    batches = [e for e in events if e["event"] == "batch"]
    assert batches[-1]["batch"] == batches[-1]["batches"] == 7  # 1600 images / 256
    assert [e["event"] for e in events if e["event"] != "batch"] == ["epoch", "evaluate", "save"]


@pytest.mark.slow
def test_saved_model_reloads_with_plain_keras_in_safe_mode(one_epoch_artifact, real_dataset):
    """A fresh process that imports only keras loads the file and predicts the same."""
    art, _ = one_epoch_artifact
    x = real_dataset.x_test[:64].reshape(-1, 28, 28, 1).astype(np.float32)
    np.save(art.path.parent / "x.npy", x)
    script = textwrap.dedent(f"""
        import sys, numpy as np, keras
        model = keras.models.load_model({str(art.path / "model.keras")!r}, safe_mode=True)
        p = model.predict(np.load({str(art.path.parent / "x.npy")!r}), verbose=0)
        np.save({str(art.path.parent / "p.npy")!r}, p)
        print(sorted(m for m in sys.modules if m.startswith("fmnist")))
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", script], cwd="/", env=env, capture_output=True,
                         text=True, timeout=120, check=True)  # fmt: skip
    assert out.stdout.strip().endswith("[]")  # nothing of ours was imported
    reloaded = np.load(art.path.parent / "p.npy")
    stored = art.test_probabilities()[:64]
    np.testing.assert_allclose(reloaded, stored, atol=2e-3)  # stored as float16
    np.testing.assert_array_equal(reloaded.argmax(1), stored.argmax(1))


@pytest.mark.slow
def test_training_is_repeatable_with_a_seed(real_dataset, tmp_path):
    r = replace(get_spec("twoconv").recipe, epochs=1, batch_size=128)
    x, y = real_dataset.x_train[:512], real_dataset.y_train[:512]
    a = engine.fit(get_spec("twoconv"), x, y, None, None, r, seed=7)
    b = engine.fit(get_spec("twoconv"), x, y, None, None, r, seed=7)
    assert a.history[0]["loss"] == pytest.approx(b.history[0]["loss"], rel=1e-4)


def test_stratified_subset_keeps_class_proportions(real_dataset):
    keep = stratified_subset(real_dataset.y_train, 2000, seed=0)
    assert len(keep) == 2000
    assert np.bincount(real_dataset.y_train[keep]).tolist() == [200] * 10


@pytest.mark.slow
def test_kfold_makes_k_fresh_models_on_disjoint_folds(real_dataset, monkeypatch):
    x, y = real_dataset.x_train[:600], real_dataset.y_train[:600]
    folds = engine.kfold_indices(y, 3, seed=0)
    vals = [set(va.tolist()) for _, va in folds]
    assert all(not (a & b) for i, a in enumerate(vals) for b in vals[i + 1 :])
    assert set().union(*vals) == set(range(600))
    for tr, va in folds:
        assert not set(tr.tolist()) & set(va.tolist())
        assert np.bincount(y[va], minlength=10).min() >= np.bincount(y, minlength=10).min() // 3

    built = []
    original = ModelSpec.build

    def counting_build(self, **kw):
        model = original(self, **kw)
        built.append(model)
        return model

    monkeypatch.setattr(ModelSpec, "build", counting_build)
    recipe = replace(get_spec("baseline").recipe, epochs=1)
    result = engine.cross_validate(get_spec("baseline"), x, y, recipe, 3, seed=0)
    assert result["k"] == 3 and len(result["folds"]) == 3
    assert len({id(m) for m in built}) == 3  # a fresh model per fold
    assert [f["n_val"] for f in result["folds"]] == [len(va) for _, va in folds]
    accs = [f["val_accuracy"] for f in result["folds"]]
    assert result["mean"] == pytest.approx(np.mean(accs))
    assert result["std"] == pytest.approx(np.std(accs))


def test_augmentation_changes_images_but_not_their_shape(real_dataset):
    aug = engine.make_augmenter(seed=1)
    x = real_dataset.x_train[:32].reshape(-1, 28, 28, 1).astype(np.float32)
    out = np.asarray(aug(x, training=True))
    assert out.shape == x.shape
    assert not np.allclose(out, x)
    assert out.min() >= -1 and out.max() <= 256
    # the same item stays mostly where it was: strong correlation with the original
    corr = np.corrcoef(out.ravel(), x.ravel())[0, 1]
    assert corr > 0.6


def test_cancel_stops_training_and_saves_nothing(real_dataset, tmp_path):
    calls = []

    def stop_after_three_batches():
        calls.append(1)
        return len(calls) >= 3

    with pytest.raises(engine.TrainingCancelled):
        run_training(
            "cnn1",
            TrainOptions(epochs=2, augment_epochs=0, limit=2000),
            should_stop=stop_after_three_batches,
            root=tmp_path,
        )
    assert not [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert not (tmp_path / "cnn1").exists()


@pytest.mark.slow
def test_early_stopping_restores_the_best_epoch(real_dataset):
    x, y = real_dataset.x_train[:1000], real_dataset.y_train[:1000]
    xv, yv = real_dataset.x_train[1000:1500], real_dataset.y_train[1000:1500]
    # a large learning rate on few images overfits within a few epochs
    recipe = replace(get_spec("baseline").recipe, optimizer="adam", learning_rate=0.005,
                     epochs=8, early_stopping=2)  # fmt: skip
    result = engine.fit(get_spec("baseline"), x, y, xv, yv, recipe, seed=0)
    best = min(result.history, key=lambda h: h["val_loss"])
    assert result.best_epoch == best["epoch"]
    probs = np.asarray(
        result.model.predict(xv.reshape(-1, 28, 28, 1).astype(np.float32), verbose=0)
    )
    loss = -np.log(np.clip(probs[np.arange(len(yv)), yv], 1e-7, 1)).mean()
    assert loss == pytest.approx(best["val_loss"], rel=0.01)  # the weights are the best epoch's
    assert result.history[-1]["val_loss"] > best["val_loss"]  # ...not the last epoch's


def test_engine_pipeline_matches_plain_numpy_batches(real_dataset):
    ds = engine.make_dataset(real_dataset.x_train[:1000], real_dataset.y_train[:1000], 256,
                             shuffle=True, seed=0)  # fmt: skip
    seen_x, seen_y = [], []
    for bx, by in ds:
        seen_x.append(np.asarray(bx))
        seen_y.append(np.asarray(by))
    assert [len(b) for b in seen_y] == [256, 256, 256, 232]
    xs, ys = np.concatenate(seen_x), np.concatenate(seen_y)
    assert xs.dtype == np.float32 and xs.shape == (1000, 28, 28, 1)
    assert sorted(ys.tolist()) == sorted(real_dataset.y_train[:1000].tolist())  # a permutation
    assert not np.array_equal(ys, real_dataset.y_train[:1000])  # shuffled
    assert len(ds) == 4
    epoch = lambda d: np.concatenate([np.asarray(by) for _, by in d])  # noqa: E731
    again = engine.make_dataset(real_dataset.x_train[:1000], real_dataset.y_train[:1000], 256,
                                shuffle=True, seed=0)  # fmt: skip
    np.testing.assert_array_equal(epoch(again), ys)  # the same seed repeats exactly
    assert not np.array_equal(epoch(again), ys)  # and the next epoch has a new order


@pytest.mark.slow
def test_grouped_steps_make_the_same_updates(real_dataset):
    # The engine runs several small batches per compiled call (steps_per_execution): faster,
    # and the weights after an epoch must be those of one call per batch.
    import keras

    x, y = real_dataset.x_train[:640], real_dataset.y_train[:640]
    recipe = replace(get_spec("strided3").recipe, batch_size=32)
    assert engine.steps_per_execution(32) > 1
    weights = []
    for group in (False, True):
        keras.utils.set_random_seed(0)
        model = get_spec("strided3").build()
        engine.compile_model(model, recipe, group_steps=group)
        model.fit(engine.make_dataset(x, y, 32, shuffle=False, seed=0), epochs=1, verbose=0)
        weights.append(model.get_weights())
    assert len(weights[0]) == len(weights[1])
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert not np.allclose(weights[0][0], get_spec("strided3").build().get_weights()[0])


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(real_dataset, tmp_path):
    script = textwrap.dedent("""
        import json, sys
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from fmnist_core.training.run import TrainOptions, run_training
        art = run_training("cnn1", TrainOptions(epochs=1, augment_epochs=0, limit=1000,
                           distribute="mirrored"), root=sys.argv[1])
        m = art.manifest
        print(json.dumps({"replicas": m["replicas"], "acc": m["test_accuracy"]}))
    """)
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["acc"] > 0.4


@pytest.mark.slow
def test_cli_train_list_and_evaluate(real_dataset, isolated_cache):
    env = {**os.environ, "FMNIST_CACHE_DIR": str(isolated_cache)}
    out = run_cli("train", "baseline", "--limit", "1000", "--epochs", "1", "--kfold", "0", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "test accuracy" in out.stdout
    rows = {r["name"]: r for r in json.loads(run_cli("list", "--json", env=env).stdout)}
    assert rows["baseline"]["status"] == "shipped"  # the run is a version, not yet in use
    run_id = rows["baseline"]["versions"][-1]["id"]
    assert rows["baseline"]["versions"][-1]["origin"] == "user"
    assert rows["vgg19"]["status"] in ("needs ImageNet weights", "shipped", "trained")
    assert set(rows) == set(list_models())
    ev = json.loads(run_cli("evaluate", f"baseline@{run_id}", "--json", env=env).stdout)
    assert ev["origin"] == "user" and ev["version"] == run_id
    assert ev["test_accuracy"] == pytest.approx(ev["manifest_test_accuracy"], abs=0.001)
    bad = run_cli("train", "nonexistent", env=env)
    assert bad.returncode == 2 and "Unknown model" in bad.stderr and "Traceback" not in bad.stderr


def test_numpy_batches_pipeline_trains(real_dataset):
    """The PyDataset pipeline (what JAX and PyTorch backends use) also feeds model.fit."""
    from fmnist_core.models import create_model

    x, y = real_dataset.x_train[:1000].reshape(-1, 28, 28, 1), real_dataset.y_train[:1000]
    batches = engine.ArrayBatches(x, y, 100, shuffle=True, seed=0, augment=True)
    assert len(batches) == 10
    bx, by = batches[0]
    assert bx.shape == (100, 28, 28, 1) and bx.dtype == np.float32 and by.dtype == np.int32
    first_order = batches.order.copy()
    batches.on_epoch_end()
    assert not np.array_equal(first_order, batches.order)
    model = create_model("cnn1")
    engine.compile_model(model, get_spec("cnn1").recipe)
    history = model.fit(batches, epochs=2, verbose=0).history
    assert history["loss"][1] < history["loss"][0]


@pytest.mark.slow
def test_a_model_trained_under_jax_loads_and_predicts_the_same_under_tensorflow(
    real_dataset, tmp_path
):
    """GPU machines train with KERAS_BACKEND=jax; the app runs on TensorFlow."""
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    out = subprocess.run(
        [sys.executable, "-m", "fmnist_core", "train", "cnn1", "--limit", "1000", "--epochs", "1",
         "--augment-epochs", "1", "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    from fmnist_core.versions import load_artifact

    art = load_artifact("cnn1", tmp_path, "user")
    assert art.manifest["backend"] == "jax" and "jax" in art.manifest["library_versions"]
    assert [h["phase"] for h in art.manifest["history"]] == ["plain", "augment"]
    probs = np.asarray(
        art.load_model().predict(
            real_dataset.x_test.reshape(-1, 28, 28, 1).astype(np.float32), verbose=0
        )
    )
    acc = float((probs.argmax(1) == real_dataset.y_test).mean())
    assert acc == pytest.approx(art.manifest["test_accuracy"], abs=0.001)


def test_train_options_validate_and_refuse_unknown_settings():
    from fmnist_core.training.run import TrainOptions, TrainOptionsError

    assert TrainOptions.from_dict({"epochs": 2, "limit": 1000}).epochs == 2
    with pytest.raises(TrainOptionsError, match="unknown training settings: epoch"):
        TrainOptions.from_dict({"epoch": 2})  # a typo is refused, never silently dropped
    for bad, message in (
        ({"kfold": 1}, "at least 2 folds"),
        ({"epochs": 0, "augment_epochs": 0}, "at least one epoch"),
        ({"limit": 10}, "between 100 and 60,000"),
        ({"batch_size": 0}, "batch size"),
        ({"augmentation": "cartoons"}, "unknown augmentation 'cartoons'"),
    ):
        with pytest.raises(TrainOptionsError, match=message):
            TrainOptions.from_dict(bad)


def test_a_run_can_change_what_its_augmented_epochs_vary():
    """`train robust --augmentation clipart`: the recipe's augmentation replaced, and the
    change kept among the manifest's recipe overrides."""
    from fmnist_core.cli import build_parser
    from fmnist_core.training.run import TrainOptions, _plan

    args = build_parser().parse_args(["train", "robust", "--augmentation", "clipart"])
    plan = _plan("robust", TrainOptions(augmentation=args.augmentation))
    assert plan.recipe.augmentation == "clipart" and plan.overrides == {"augmentation": "clipart"}
    assert _plan("robust", TrainOptions()).recipe.augmentation == "shapes"


def test_a_job_with_an_unknown_setting_is_refused_before_it_starts(isolated_cache):
    from fmnist_core.training import jobs
    from fmnist_core.training.run import TrainOptionsError

    with pytest.raises(TrainOptionsError, match="unknown training settings: epoch"):
        jobs.start_job("baseline", {"epoch": 3}, MACHINE_OWNER)
    assert jobs.read_lock() is None and not (isolated_cache / jobs.LOCK_FILE).exists()


def test_manifests_record_the_loss_actually_used():
    from fmnist_core.training.engine import training_loss_name

    for name in list_models():
        path = ROOT / "assets" / "models" / name / "manifest.json"
        if path.exists():
            m = json.loads(path.read_text())
            spec = get_spec(name)
            expected = None if spec.assembled else training_loss_name(spec.recipe)
            assert m["training_loss"] == expected, name
            assert "loss" not in m["recipe"], name  # the tutorial's is tutorial_loss
    assert get_spec("cnn1").recipe.tutorial_loss == "categorical_crossentropy"


def test_a_run_reports_its_progress_as_one_fraction_across_folds():
    from fmnist_core.training.run import _with_fraction

    seen = []
    report = _with_fraction(seen.append, folds=2)
    for fold in (1, 2, None):  # two fold fits, then the final fit
        for epoch in (1, 2):
            for batch in (1, 2):
                event = {"event": "batch", "epoch": epoch, "epochs": 2, "batch": batch,
                         "batches": 2, "phase": "plain", "logs": {}}  # fmt: skip
                report({**event, **({"fold": fold, "folds": 2} if fold else {})})
    fractions = [e["fraction"] for e in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert fractions[3] == pytest.approx(1 / 3)  # the end of the first of three equal parts
