"""The model registry: every entry builds, takes raw pixels, and returns probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_core import models
from fmnist_core.models import UnknownModelError, WeightsUnavailableError, get_spec, list_models

TUTORIAL_MODELS = [
    "cnn1", "cnn3", "cnn4", "vgg19", "strided3", "peltarion",
    "baseline", "baseline_same", "baseline_wide", "twoconv",
]  # fmt: skip
BEYOND = ["resnet", "robust", "ensemble"]  # robust fine-tunes resnet
EXPECTED = TUTORIAL_MODELS + BEYOND
CPU_MODELS = [n for n in EXPECTED if n != "vgg19"]


def test_registry_has_every_tutorial_recipe_and_our_own_models():
    assert list_models() == EXPECTED
    for name in BEYOND:
        spec = get_spec(name)
        assert spec.beyond_tutorials and spec.reported_accuracy is None
        assert models.display_name(name) == f"{name} (beyond the tutorials)"
        assert models.source_label(name) == "beyond"
    for name in TUTORIAL_MODELS:
        assert not get_spec(name).beyond_tutorials
        assert models.display_name(name) == name
        spec = get_spec(name)
        assert spec.tutorial[:3] in {"000", "001", "002", "003", "004"}
        assert 0.5 < spec.reported_accuracy < 1.0
        assert spec.recipe.batch_size > 0 and spec.recipe.epochs > 0
        assert spec.description
    for name in BEYOND:
        assert get_spec(name).description


def test_recipes_follow_the_tutorials():
    assert get_spec("cnn1").recipe.augment_epochs == 50
    assert get_spec("cnn4").recipe.batch_size == 256
    assert get_spec("baseline").recipe.optimizer == "sgd"
    assert get_spec("baseline").recipe.momentum == 0.9
    assert get_spec("baseline").recipe.kfold == 5
    assert get_spec("twoconv").recipe.batch_size == 512
    assert get_spec("twoconv").recipe.epochs == 50
    assert get_spec("strided3").recipe.validation == "test"
    robust = get_spec("robust").recipe
    assert robust.augmentation == "shapes" and robust.schedule == "cosine"
    assert robust.validation == "split"  # nothing is chosen on the test set
    words = models.recipe_in_words(robust)
    assert "outlines" in words and "cosine" in words and "batch 128" in words
    # robust fine-tunes resnet: the same layers, so resnet's weights fit it
    assert robust.init_from == "resnet" and words.startswith("starts from resnet's trained")
    assert "fine-tuning" in models.glossary_for(words)
    a, b = models.create_model("robust"), models.create_model("resnet")
    assert [w.shape for w in a.weights] == [w.shape for w in b.weights]


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(UnknownModelError, match="cnn1"):
        get_spec("resnet9000")


@pytest.mark.parametrize("name", CPU_MODELS)
def test_model_takes_raw_pixels_and_returns_probabilities(name):
    model = models.create_model(name)
    assert tuple(model.input_shape) == (None, 28, 28, 1)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(5, 28, 28, 1)).astype(np.float32)
    p = np.asarray(model(x, training=False))
    assert p.shape == (5, 10)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    # scaling is inside the model: a white image and a black one give different answers
    white = np.asarray(model(np.full((1, 28, 28, 1), 255.0, np.float32), training=False))
    black = np.asarray(model(np.zeros((1, 28, 28, 1), np.float32), training=False))
    assert not np.allclose(white, black)


@pytest.fixture(scope="module")
def random_vgg_weights(tmp_path_factory):
    """A weights file from a randomly initialised VGG19 (ImageNet weights can't be fetched here)."""
    import keras

    path = tmp_path_factory.mktemp("vgg") / "vgg19_random.weights.h5"
    keras.applications.VGG19(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(
        path
    )
    return path


def test_vgg19_loads_a_local_weights_file(random_vgg_weights):
    import keras

    model = models.create_model("vgg19", image_size=32, weights=str(random_vgg_weights))
    base = next(layer for layer in model.layers if layer.name.startswith("vgg19"))
    assert not base.trainable  # frozen feature extractor
    reference = keras.applications.VGG19(include_top=False, weights=None, input_shape=(32, 32, 3))
    reference.load_weights(random_vgg_weights)
    np.testing.assert_array_equal(base.get_weights()[0], reference.get_weights()[0])
    p = np.asarray(model(np.full((2, 28, 28, 1), 128.0, np.float32), training=False))
    assert p.shape == (2, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_vgg19_without_weights_is_one_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no cached ImageNet weights
    monkeypatch.setattr(
        "keras.src.utils.file_utils.urlretrieve",
        _no_network,
        raising=False,
    )
    with pytest.raises(WeightsUnavailableError, match="--weights PATH"):
        models.create_model("vgg19", image_size=32)


def test_vgg19_with_a_broken_weights_file(tmp_path):
    bad = tmp_path / "broken.weights.h5"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(WeightsUnavailableError, match="broken.weights.h5"):
        models.create_model("vgg19", image_size=32, weights=str(bad))


def _no_network(*args, **kwargs):
    raise OSError("network unreachable (test)")
