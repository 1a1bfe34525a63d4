"""Beyond the tutorials: the residual network, its augmentation and schedule, the ensemble,
the inside of a network with shortcuts, and the accuracy/cost trade-off."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest

from fmnist_core.analysis.embeddings import feature_model
from fmnist_core.analysis.tradeoffs import pareto_front, predict_latency_ms
from fmnist_core.data.augment import CropFlipErase
from fmnist_core.explain.inspector import InsideError, Inspector
from fmnist_core.models import create_model, get_spec, recipe_in_words
from fmnist_core.training import engine
from fmnist_core.training.ensemble import EnsembleError, choose_members, held_out_from
from fmnist_core.training.run import TrainOptions, TrainOptionsError, run_training
from fmnist_core.versions import file_sha256

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def batch(real_dataset):
    return real_dataset.x_train[:128].reshape(-1, 28, 28, 1).astype(np.float32)


# ----------------------------------------------------------------------------- augmentation


def test_crop_flip_erase_shifts_by_whole_pixels_mirrors_and_erases(batch):
    aug = CropFlipErase(seed=3)
    a = np.asarray(aug(batch, training=True))
    b = np.asarray(CropFlipErase(seed=3)(batch, training=True))
    np.testing.assert_array_equal(a, b)  # repeats per seed
    assert not np.allclose(a, np.asarray(CropFlipErase(seed=4)(batch, training=True)))
    np.testing.assert_array_equal(np.asarray(aug(batch, training=False)), batch)
    assert a.shape == batch.shape and a.min() >= 0 and a.max() <= 255
    # every output is the input shifted by at most 4 whole pixels (maybe mirrored), apart
    # from one erased rectangle: find the shift that matches most pixels
    erased, mirrored = 0, 0
    for out, img in zip(a[..., 0], batch[..., 0]):
        best = (0, None)
        for flip in (False, True):
            src = img[:, ::-1] if flip else img
            padded = np.pad(src, 4)
            for dy, dx in itertools.product(range(9), repeat=2):
                match = np.mean(padded[dy : dy + 28, dx : dx + 28] == out)
                if match > best[0]:
                    best = (match, flip)
        assert best[0] > 0.7  # at most a quarter of the image is erased
        erased += best[0] < 1.0
        mirrored += best[1]
    assert 0.25 < erased / len(a) < 0.75 and 0.3 < mirrored / len(a) < 0.7


def test_crops_pipeline_keeps_every_label_with_its_image(real_dataset):
    x, y = real_dataset.x_train[:400], real_dataset.y_train[:400]
    plain = list(engine.make_dataset(x, y, 200, shuffle=True, seed=2).take(2))
    crops = list(engine.make_dataset(x, y, 200, shuffle=True, seed=2, augment="crops").take(2))
    for (px, py), (cx, cy) in zip(plain, crops):
        np.testing.assert_array_equal(py.numpy(), cy.numpy())
        assert not np.allclose(px.numpy(), cx.numpy())
    numpy_batches = engine.ArrayBatches(
        x.reshape(-1, 28, 28, 1), y, 200, shuffle=True, seed=2, augment="crops"
    )
    bx, by = numpy_batches[0]
    np.testing.assert_array_equal(by, y[numpy_batches.order[:200]])
    assert bx.dtype == np.float32 and not np.allclose(bx, x[numpy_batches.order[:200], ..., None])


# ----------------------------------------------------------------------------- recipe parts


def test_label_smoothing_loss_is_cross_entropy_on_smoothed_targets(real_dataset):
    recipe = replace(get_spec("resnet").recipe, label_smoothing=0.1)
    loss = engine.training_loss(recipe)
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), size=6).astype(np.float32)
    labels = real_dataset.y_test[:6].astype(np.int32)
    targets = np.full((6, 10), 0.1 / 10, np.float32)
    targets[np.arange(6), labels] += 0.9
    expected = -(targets * np.log(probs)).sum(axis=1)
    np.testing.assert_allclose(np.asarray(loss(labels, probs)), expected, rtol=1e-4)
    assert engine.training_loss(replace(recipe, label_smoothing=0.0)) == engine.TRAINING_LOSS
    assert "label smoothing 0.1" in engine.training_loss_name(recipe)


def test_warm_up_then_cosine_schedule():
    recipe = replace(get_spec("resnet").recipe, learning_rate=0.1, warmup_epochs=2)
    rate = engine.learning_rate(recipe, total_steps=1000, steps_per_epoch=100)
    assert float(rate(0)) == pytest.approx(0.0, abs=1e-6)
    assert float(rate(100)) == pytest.approx(0.05, rel=1e-3)  # half-way up
    assert float(rate(200)) == pytest.approx(0.1, rel=1e-3)  # the peak
    assert float(rate(1000)) == pytest.approx(0.0, abs=1e-6)
    assert float(rate(600)) == pytest.approx(0.05, rel=1e-3)  # half-way down the cosine
    short = engine.learning_rate(replace(recipe, warmup_epochs=20), 1000, 100)
    assert float(short(500)) == pytest.approx(0.1, rel=1e-3)  # warm-up: half the run at most


def test_resnet_recipe_in_words_and_registry_labels():
    spec = get_spec("resnet")
    assert spec.beyond_tutorials and spec.reported_accuracy is None
    words = recipe_in_words(spec.recipe)
    for phrase in (
        "random crops",
        "mirror",
        "erased",
        "label smoothing",
        "weight decay",
        "warm-up",
    ):
        assert phrase in words, phrase
    assert get_spec("ensemble").assembled and get_spec("ensemble").beyond_tutorials


def test_resnet_has_shortcuts_and_a_float32_output():
    model = create_model("resnet")
    adds = [layer for layer in model.layers if type(layer).__name__ == "Add"]
    assert len(adds) == 6
    assert model.output.dtype == "float32" and 150_000 < model.count_params() < 2_000_000


def test_precision_and_widths_are_checked(tmp_path):
    with pytest.raises(TrainOptionsError, match="unknown precision"):
        TrainOptions(precision="float8").validate()
    with pytest.raises(TrainOptionsError, match="three stage widths"):
        TrainOptions(widths=[64, 128]).validate()
    with pytest.raises(TrainOptionsError, match="--widths does not apply to cnn1"):
        run_training("cnn1", TrainOptions(widths=[8, 16, 32]), root=tmp_path)
    assert not list(tmp_path.iterdir())  # refused before anything was trained or written
    wide = create_model("resnet", widths=(8, 16, 32))
    assert [layer.filters for layer in wide.layers if layer.name.endswith("_conv2")][::2] == [
        8,
        16,
        32,
    ]


# ----------------------------------------------------------------------------- training


@pytest.mark.slow
def test_resnet_trains_one_epoch_in_bfloat16_and_ships_float32(real_dataset, tmp_path):
    opts = TrainOptions(augment_epochs=1, limit=2000, precision="mixed_bfloat16")
    art = run_training("resnet", opts, root=tmp_path)
    m = art.manifest
    assert m["n_train"] == 1600 and m["precision"] == "mixed_bfloat16"
    assert m["training_loss"].startswith("categorical_crossentropy (label smoothing")
    assert keras.mixed_precision.global_policy().name == "float32"  # put back after the run
    x = real_dataset.x_test[:200].reshape(-1, 28, 28, 1).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(f"""
        import numpy as np, keras
        m = keras.models.load_model({str(art.path / "model.keras")!r}, safe_mode=True)
        assert {{layer.dtype_policy.name for layer in m.layers}} == {{"float32"}}
        np.save({str(tmp_path / "p.npy")!r}, np.asarray(m(np.load({str(tmp_path / "x.npy")!r}),
                                                            training=False)))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    # the reloaded model predicts what the manifest's stored test probabilities say
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), art.test_probabilities()[:200],
                               atol=2e-3)  # fmt: skip


@pytest.fixture(scope="module")
def members_root(real_dataset, tmp_path_factory):
    """Small real runs: two models that hold out the validation split, one that does not."""
    root = tmp_path_factory.mktemp("members")
    for name in ("cnn1", "peltarion", "strided3"):
        opts = TrainOptions(epochs=1, augment_epochs=0, limit=2000, seed=0)
        run_training(name, opts, root=root)
    return root


@pytest.mark.slow
def test_ensemble_is_chosen_on_the_validation_split_and_averages_its_members(
    members_root, real_dataset
):
    art = run_training("ensemble", TrainOptions(limit=2000), root=members_root)
    m = art.manifest
    assert m["members"] == ["cnn1", "peltarion"]
    sel = m["member_selection"]
    assert sel["not_candidates"] == {"strided3": "trained on all 60,000 training images"}
    assert m["training_loss"] is None and m["history"] == []
    for name, source in m["member_sources"].items():  # which files it was made from
        assert source["sha256"] == file_sha256(members_root / name / "model.keras")
    model = keras.models.load_model(art.path / "model.keras", safe_mode=True, compile=False)
    assert [layer.name for layer in model.layers if isinstance(layer, keras.Model)] == [
        "cnn1",
        "peltarion",
    ]  # its members, as nested models
    x = real_dataset.x_test[:64].reshape(-1, 28, 28, 1).astype(np.float32)
    members = [
        keras.models.load_model(members_root / n / "model.keras", safe_mode=True, compile=False)
        for n in m["members"]
    ]
    weights = m["member_weights"]
    assert sum(weights.values()) == pytest.approx(1.0) and set(weights) == set(m["members"])
    mean = sum(weights[n] * np.asarray(k(x, training=False)) for n, k in zip(m["members"], members))
    np.testing.assert_allclose(np.asarray(model(x, training=False)), mean, atol=1e-5)
    # the manifest scores what the saved file predicts
    np.testing.assert_allclose(art.test_probabilities()[:64], mean, atol=2e-3)
    with pytest.raises(InsideError, match="side by side \\((cnn1, peltarion|peltarion, cnn1)\\)"):
        Inspector(model, "ensemble")
    # its features for the Embeddings page: the members' penultimate features side by side
    feats, probs = feature_model(model).predict(x, verbose=0)
    widths = [k.get_layer("logits").input.shape[-1] for k in members]
    assert feats.shape == (64, sum(widths))
    np.testing.assert_allclose(probs, mean, atol=1e-5)


@pytest.mark.slow
def test_ensemble_needs_two_models_that_held_out_the_split(members_root, tmp_path):
    (tmp_path / "strided3").symlink_to(members_root / "strided3")
    with pytest.raises(EnsembleError, match="fewer than two"):
        run_training("ensemble", TrainOptions(limit=2000), root=tmp_path)


def test_ensemble_selection_on_real_probabilities(real_dataset):
    names = ["cnn1", "cnn4", "twoconv", "robust"]
    probs = {n: np.load(ROOT / "assets/models" / n / "test_probs.npy").astype(np.float32)
             for n in names}  # fmt: skip
    y = real_dataset.y_test
    weights, trail = choose_members(probs, y)

    def accuracy(p):
        return float(np.mean(p.argmax(1) == y))

    # the first pick is the most accurate model alone; each step is the best addition
    assert trail[0]["added"] == max(names, key=lambda n: accuracy(probs[n]))
    bag = [t["added"] for t in trail]
    for k in range(1, 4):
        before = sum(probs[n] for n in bag[:k])
        best = max(accuracy((before + probs[n]) / (k + 1)) for n in names)
        assert trail[k]["val_accuracy"] == pytest.approx(best, abs=1e-5)
    # the weights: shares of the best bag of two or more different models
    assert len(weights) >= 2 and sum(weights.values()) == pytest.approx(1.0)
    chosen = accuracy(sum(w * probs[n] for n, w in weights.items()))
    eligible = [t["val_accuracy"] for i, t in enumerate(trail) if len(set(bag[: i + 1])) >= 2]
    assert chosen == pytest.approx(max(eligible), abs=1e-5)
    assert chosen >= max(accuracy(probs[n]) for n in names) - 0.002
    with pytest.raises(EnsembleError):
        choose_members({"cnn1": probs["cnn1"]}, y)


def test_held_out_from_reads_the_manifests():
    shipped = {n: json.loads((ROOT / "assets/models" / n / "manifest.json").read_text())
               for n in ("cnn1", "baseline", "twoconv")}  # fmt: skip
    kw = {"split_seed": 0, "limit": None, "seed": 0}
    assert held_out_from(shipped["cnn1"], **kw) == ""
    assert held_out_from(shipped["baseline"], **kw) == "trained on all 60,000 training images"
    assert held_out_from(shipped["twoconv"], **kw) == "held out a different validation split"


# ----------------------------------------------------------------------------- inside


def test_inspector_runs_a_residual_network_through_its_graph(real_dataset):
    keras.utils.set_random_seed(0)
    model = create_model("resnet")
    ins = Inspector(model, "resnet")
    assert ins.is_graph
    x = real_dataset.x_test[:2].reshape(-1, 28, 28, 1).astype(np.float32)
    outputs = ins.forward(x)
    for info in ins.info[::5]:  # every layer's output equals Keras' own sub-model's
        sub = keras.Model(model.inputs, model.get_layer(info.name).output)
        np.testing.assert_allclose(outputs[info.index], np.asarray(sub(x)), atol=1e-4)
    conv = ins.layer("stage2_block1_conv1")
    assert ins.info[ins.block_end(conv)].name == "stage2_block1_out"  # after the shortcut
    with pytest.raises(InsideError, match="shortcut"):  # no place to cut the network: the
        ins.run(outputs[conv.index], conv.index + 1)  # shortcut needs the block's input too
    a = ins.arithmetic(x[0], channel=5, row=0, col=13)  # at the edge: padding
    assert a.weighted_sum == pytest.approx(a.value, abs=1e-4)


# ----------------------------------------------------------------------------- trade-off


def test_pareto_front():
    costs = [10, 20, 30, 40, 25]
    accs = [0.90, 0.92, 0.91, 0.95, 0.92]
    assert pareto_front(costs, accs) == [0, 1, 3]  # 30 is beaten by 20; 25 ties 20 but costs more


def test_latency_is_a_positive_median():
    ms = predict_latency_ms(create_model("cnn1"), repeats=5)
    assert 0 < ms < 1000


@pytest.mark.slow
def test_resnet_recipe_trains_under_jax(real_dataset, tmp_path):
    """GPU machines train with KERAS_BACKEND=jax: augmentation, loss and schedule use keras.ops
    and Keras' own optimisers only; a few steps on real images lower the loss."""
    pytest.importorskip("jax")
    np.save(tmp_path / "x.npy", real_dataset.x_train[:512])
    np.save(tmp_path / "y.npy", real_dataset.y_train[:512])
    code = textwrap.dedent(f"""
        import numpy as np, keras
        from dataclasses import replace
        from fmnist_core.training import engine
        from fmnist_core.models import get_spec
        assert keras.backend.backend() == "jax"
        x, y = np.load({str(tmp_path / "x.npy")!r}), np.load({str(tmp_path / "y.npy")!r})
        spec = get_spec("resnet")
        recipe = replace(spec.recipe, augment_epochs=3, learning_rate=0.05)
        result = engine.fit(spec, x, y, None, None, recipe, seed=0,
                            build_overrides={{"widths": (8, 16, 32), "blocks": 1}})
        losses = [h["loss"] for h in result.history]
        assert result.backend == "jax" and losses[-1] < losses[0], losses
        print("ok", losses)
    """)
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]


@pytest.mark.slow
def test_predictor_answers_an_ensemble_with_its_members_mean(members_root, real_dataset):
    from fmnist_core.analysis.predict import Predictor
    from fmnist_core.versions import load_artifact

    if not (members_root / "ensemble").exists():
        run_training("ensemble", TrainOptions(limit=2000), root=members_root)
    arts = [load_artifact(n, members_root, "shipped") for n in ("cnn1", "peltarion", "ensemble")]
    x = real_dataset.x_test[7].astype(np.float32)
    own = np.asarray(arts[2].load_model()(x.reshape(1, 28, 28, 1), training=False))[0]
    fast = Predictor(arts)
    weights = arts[2].manifest["member_weights"]
    assert fast.averaged == {"ensemble": weights} and list(weights) == ["cnn1", "peltarion"]
    answers = fast(x)
    assert list(answers) == ["cnn1", "peltarion", "ensemble"]
    np.testing.assert_allclose(answers["ensemble"].probabilities, own, atol=1e-5)
    assert answers["ensemble"].seconds == pytest.approx(
        answers["cnn1"].seconds + answers["peltarion"].seconds
    )
    # a member missing here (or another version of it): the ensemble runs itself
    alone = Predictor([arts[0], arts[2]])
    assert alone.averaged == {}
    np.testing.assert_allclose(alone(x)["ensemble"].probabilities, own, atol=1e-5)
