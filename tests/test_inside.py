"""Inside a model: layers, activations, the first layer's arithmetic, attribution maps and
their faithfulness, on the shipped models and real test images; the explain CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fmnist_core import attribution as attr
from fmnist_core.artifacts import available_artifacts, find_artifact
from fmnist_core.explain import explain
from fmnist_core.inside import InsideError, Inspector, apply_activation

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def inspectors():
    artifacts, problems = available_artifacts()
    assert artifacts and not problems
    return {art.name: Inspector(art.load_model(), art.name) for art in artifacts}


def test_activations_equal_keras_submodels_and_params_add_up(inspectors, real_dataset):
    import keras

    images = real_dataset.x_test[:6].astype(np.float32)[..., None]
    for name, ins in inspectors.items():
        model = ins.model
        assert sum(i.params for i in ins.info) == model.count_params(), name
        assert ins.map_layers, f"{name} shows no feature maps"
        outputs = ins.forward(images)
        for info in ins.map_layers:
            layer = ins.layers[info.index]
            expected = keras.Model(model.inputs, layer.output).predict(images, verbose=0)
            np.testing.assert_allclose(outputs[info.index], expected, atol=1e-4, rtol=1e-4)
            assert outputs[info.index].shape[1:] == info.output_shape
        # one image's activations are the same maps
        acts = ins.activations(images[0, ..., 0])
        first = ins.first_conv()
        np.testing.assert_allclose(acts[first.name], outputs[first.index][0], atol=1e-5)
        # and the chain's output is the model's
        np.testing.assert_allclose(
            outputs[-1], model.predict(images, verbose=0), atol=1e-5, err_msg=name
        )


def test_first_layer_value_is_kernel_times_patch_plus_bias(inspectors, real_dataset):
    image = real_dataset.x_test[3]
    rng = np.random.default_rng(0)
    for name, ins in inspectors.items():
        maps = ins.activations(image)[ins.first_conv().name]
        h, w, c = maps.shape
        # corners (padding, where a model pads) and random places
        spots = [(0, 0), (h - 1, w - 1), (0, w - 1)] + [
            (int(rng.integers(h)), int(rng.integers(w))) for _ in range(5)
        ]
        for row, col in spots:
            channel = int(rng.integers(c))
            a = ins.arithmetic(image, channel, row, col)
            assert a.patch.shape == a.kernel.shape
            assert a.weighted_sum == pytest.approx(float(a.products.sum()) + a.bias, abs=1e-4)
            assert apply_activation(a.activation, a.weighted_sum) == pytest.approx(
                a.value, abs=1e-4
            ), (name, row, col, channel)
            assert a.value == pytest.approx(float(maps[row, col, channel]), abs=1e-4)
    with pytest.raises(InsideError, match="no value"):
        next(iter(inspectors.values())).arithmetic(image, 0, 99, 0)


def test_maps_point_at_the_pixels_that_matter(inspectors, real_dataset):
    """Blanking the 20% of the item that the faithful map ranks highest lowers the answer's
    probability more than blanking a random 20%, for at least 80% of 200 test images, for
    every shipped model."""
    picks = attr.faithfulness_images(real_dataset.y_test)
    assert len(picks) == 200 and len(set(real_dataset.y_test[picks])) == 10
    images = real_dataset.x_test[picks]
    for name, ins in inspectors.items():
        f = attr.faithfulness(ins, images, attr.FAITHFUL_METHOD)
        assert f.rate >= 0.8, f"{name}: {f.in_words()}"
    # the test can fail: a map that ranks the item's pixels backwards does worse than random
    ins = inspectors["cnn4"]
    cls = ins.probabilities(images[:50]).argmax(axis=1)
    backwards = -attr.gradient_x_input(ins, images[:50], cls)
    x = images[:50].astype(np.float32)
    after = ins.probabilities(np.stack([attr.blank_top(i, m) for i, m in zip(x, backwards)]))
    before = ins.probabilities(x)
    rows = np.arange(50)
    assert np.median(before[rows, cls] - after[rows, cls]) < 0.05


def test_integrated_gradients_add_up_to_the_score_difference(inspectors, real_dataset):
    ins = inspectors["cnn1"]
    x = real_dataset.x_test[:4]
    cls = ins.probabilities(x).argmax(axis=1)
    ig = attr.integrated_gradients(ins, x, cls, steps=64)
    logits = np.asarray(ins.run(x.astype(np.float32)[..., None], 0, ins.score_index + 1))
    black = np.asarray(ins.run(np.zeros((1, 28, 28, 1), np.float32), 0, ins.score_index + 1))
    for i, c in enumerate(cls):
        rise = logits[i, c] - black[0, c]
        assert ig[i].sum() == pytest.approx(rise, rel=0.05, abs=0.05)


def test_gradcam_and_explain(inspectors, real_dataset):
    ins = inspectors["robust"]
    image = real_dataset.x_test[0]
    cams = attr.gradcam(ins, image[None], [9])
    assert cams.shape == (1, 28, 28) and cams.min() >= 0 and cams.max() == pytest.approx(1)
    ex = explain(ins, image)
    assert [v.label for v in ex.views] == list(np.argsort(-ex.probabilities)[:3])
    assert ex.views[0].label == int(real_dataset.y_test[0])
    assert ex.gradcam_layer == ins.conv_layers[-1].name
    assert ex.probabilities.sum() == pytest.approx(1, abs=1e-4)
    earlier = ins.conv_layers[0].name
    assert explain(ins, image, [9], gradcam_layer=earlier).gradcam_layer == earlier
    with pytest.raises(InsideError, match="needs a convolution"):
        attr.gradcam(ins, image[None], [9], layer=ins.info[0].name)
    with pytest.raises(InsideError, match="28x28"):
        explain(ins, np.zeros((10, 10)))


def test_a_model_that_is_not_a_chain_is_refused_clearly():
    import keras

    inputs = keras.Input((28, 28, 1))
    a = keras.layers.Conv2D(2, 3, padding="same")(inputs)
    b = keras.layers.Conv2D(2, 3, padding="same")(inputs)
    out = keras.layers.Dense(10)(keras.layers.Flatten()(keras.layers.Add()([a, b])))
    with pytest.raises(InsideError, match="not a plain chain"):
        Inspector(keras.Model(inputs, out))


_BACKEND_SCRIPT = """
import sys, numpy as np
from fmnist_core.artifacts import find_artifact
from fmnist_core.inside import Inspector
from fmnist_core import attribution as attr
x = np.load(sys.argv[1])
ins = Inspector(find_artifact("cnn4").load_model(), "cnn4")
np.savez(sys.argv[2], gxi=attr.gradient_x_input(ins, x, [0, 1, 2, 3]),
         cam=attr.gradcam(ins, x, [0, 1, 2, 3]), acts=ins.forward(x)[1])
"""


def test_maps_are_the_same_under_jax(tmp_path, real_dataset):
    """GPU machines run Keras on JAX: the maps come from Keras layers and each backend's own
    gradients, and agree with TensorFlow's."""
    pytest.importorskip("jax")
    x = real_dataset.x_test[10:14]
    np.save(tmp_path / "x.npy", x)
    out = {}
    for backend in ("tensorflow", "jax"):
        env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT)}
        run = subprocess.run(
            [sys.executable, "-c", _BACKEND_SCRIPT, str(tmp_path / "x.npy"),
             str(tmp_path / f"{backend}.npz")],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        out[backend] = np.load(tmp_path / f"{backend}.npz")
    for key in ("gxi", "cam", "acts"):
        tf_, jx = out["tensorflow"][key], out["jax"][key]
        np.testing.assert_allclose(jx, tf_, atol=1e-3 * max(1.0, float(np.abs(tf_).max())))


# --------------------------------------------------------------------------- the CLI


def _cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "fmnist_core", *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_explain_cli_json_pictures_and_bad_images(tmp_path, real_dataset):
    good = tmp_path / "boot.png"
    Image.fromarray(real_dataset.x_test[0]).save(good)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "pictures"
    run = _cli("explain", "cnn4@shipped", str(good), str(broken), "--json", "--out", str(out))
    assert run.returncode == 1, run.stderr  # one image failed
    results = json.loads(run.stdout)
    assert results[1]["image"] == str(broken) and "error" in results[1]
    r = results[0]
    assert r["image"] == str(good) and r["class"] == 9 and 0.5 < r["probability"] <= 1
    attribution, cam = np.array(r["attribution"]), np.array(r["gradcam"])
    assert attribution.shape == (28, 28) and cam.shape == (28, 28)
    assert cam.min() >= 0 and cam.max() <= 1 and attribution.max() > 0
    ins = Inspector(find_artifact("cnn4@shipped").load_model())
    assert r["layers"] == [i.as_json() for i in ins.info]
    assert sum(layer["params"] for layer in r["layers"]) == ins.model.count_params()
    assert {"name", "type", "output_shape", "params"} == set(r["layers"][0])
    for f in r["files"]:
        assert Image.open(f).size[0] >= 28
    assert any(f.endswith("-gradcam.png") for f in r["files"])
    # --class picks the explained class; plain text names it
    run = _cli("explain", "cnn4", str(good), "--class", "5", "--json")
    assert run.returncode == 0 and json.loads(run.stdout)[0]["class"] == 5
    run = _cli("explain", "cnn4", str(good))
    assert run.returncode == 0 and "Ankle boot" in run.stdout
    bad = _cli("explain", "cnn4", str(good), "--class", "12")
    assert bad.returncode == 2 and "--class" in bad.stderr
    unknown = _cli("explain", "nosuchmodel", str(good))
    assert unknown.returncode == 2 and "cnn4" in unknown.stderr
