"""The tutorials' architectures, one registered builder each, with the tutorial's recipe and
reported accuracy beside it (tutorials 000 to 004)."""

from __future__ import annotations

from fmnist_core.models.blocks import head, inputs_scaled, keras_module, stack
from fmnist_core.models.registry import Recipe, WeightsUnavailableError, register_model

# --------------------------------------------------------------------------- tutorial 000

_TUTORIAL000 = Recipe(optimizer="adam", tutorial_loss="categorical_crossentropy", batch_size=256,
                  epochs=10, augment_epochs=50)  # fmt: skip
_TUTORIAL000_NOTE = "test accuracy after 10 epochs + 50 augmented epochs"


@register_model(tutorial="000", recipe=_TUTORIAL000, reported=0.9229, note=_TUTORIAL000_NOTE)
def cnn1():
    """One conv layer: Conv 32, max-pool, dropout, Dense 128."""
    return stack(
        "cnn1",
        [("conv", 32), ("pool",), ("drop", 0.2), ("flat",), ("dense", 128)],
    )


@register_model(tutorial="000", recipe=_TUTORIAL000, reported=0.9117, note=_TUTORIAL000_NOTE)
def cnn3():
    """Three conv layers (32-64-128) with dropout after each."""
    return stack(
        "cnn3",
        [
            ("conv", 32), ("pool",), ("drop", 0.25),
            ("conv", 64), ("pool",), ("drop", 0.25),
            ("conv", 128), ("drop", 0.4),
            ("flat",), ("dense", 128), ("drop", 0.3),
        ],
    )  # fmt: skip


@register_model(tutorial="000", recipe=_TUTORIAL000, reported=0.9352, note=_TUTORIAL000_NOTE)
def cnn4():
    """Four conv layers with batch normalisation, two dense layers."""
    return stack(
        "cnn4",
        [
            ("conv", 32), ("bn",), ("conv", 32), ("bn",), ("pool",), ("drop", 0.25),
            ("conv", 64), ("bn",), ("drop", 0.25),
            ("conv", 128), ("bn",), ("pool",), ("drop", 0.25),
            ("flat",), ("dense", 512), ("bn",), ("drop", 0.5),
            ("dense", 128), ("bn",), ("drop", 0.5),
        ],
    )  # fmt: skip


VGG_MEAN_BGR = (103.939, 116.779, 123.68)  # ImageNet means of the "caffe" preprocessing
VGG_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"


def vgg19_base(image_size: int, weights: str | None):
    """VGG19 without its top, frozen, with ImageNet weights (Keras cache/download) or a file."""
    keras = keras_module()
    shape = (image_size, image_size, 3)
    if weights in (None, "imagenet"):
        try:
            base = keras.applications.VGG19(
                include_top=False, weights="imagenet", input_shape=shape
            )
        except Exception as e:  # no network, blocked host, half-downloaded file...
            raise WeightsUnavailableError(
                "VGG19 needs ImageNet weights, and Keras could not download them "
                f"({type(e).__name__}: {e}). Put {VGG_WEIGHTS_FILE} in ~/.keras/models/, or pass "
                "a weights file with --weights PATH."
            ) from e
    else:
        base = keras.applications.VGG19(include_top=False, weights=None, input_shape=shape)
        try:
            base.load_weights(weights)
        except Exception as e:
            raise WeightsUnavailableError(f"Cannot load VGG19 weights from {weights}: {e}") from e
    base.trainable = False
    return base


@register_model(
    tutorial="000",
    recipe=Recipe(
        optimizer="adam", tutorial_loss="categorical_crossentropy", batch_size=256, epochs=50
    ),
    reported=0.7664,
    note="frozen ImageNet VGG19 at 150x150, head trained 50 epochs",
    needs_pretrained_weights=True,
    image_size=48,
)
def vgg19(image_size: int = 48, weights: str | None = "imagenet"):
    """Frozen ImageNet VGG19 features, Dense 512 head (transfer learning)."""
    if image_size < 32:
        raise ValueError("VGG19 needs images of at least 32x32")
    layers = keras_module().layers
    inputs = keras_module().Input(shape=(28, 28, 1), name="pixels")
    x = layers.Resizing(image_size, image_size, name="resize")(inputs)
    x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    # VGG's own preprocessing: 0-255 pixels minus the ImageNet channel means (BGR order)
    x = layers.Normalization(mean=VGG_MEAN_BGR, variance=(1.0, 1.0, 1.0), name="vgg_mean")(x)
    x = vgg19_base(image_size, weights)(x, training=False)
    x = layers.Flatten()(x)
    x = layers.Dense(512, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    return head(x, inputs, "vgg19")


# --------------------------------------------------------------------------- tutorial 001


@register_model(
    tutorial="001",
    recipe=Recipe(optimizer="adam", batch_size=32, epochs=10, validation="test"),
    reported=0.90,
    note="about 90% validation (= test) accuracy after 10 epochs",
)
def strided3():
    """Three stride-2 conv layers (32-64-128), no pooling, Dense 512."""
    layers = keras_module().layers
    inputs, x = inputs_scaled("strided3")
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, strides=2, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Dense(512, activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    return head(x, inputs, "strided3")


# --------------------------------------------------------------------------- tutorial 002


@register_model(
    tutorial="002",
    recipe=Recipe(
        optimizer="adam",
        tutorial_loss="categorical_crossentropy",
        batch_size=256,
        epochs=10,
        early_stopping=3,
    ),  # fmt: skip
    reported=0.91,
    note="0.91 validation accuracy at the best epoch (5)",
)
def peltarion():
    """The platform's CNN snippet: conv, max-pool, batch norm blocks, global average pooling."""
    return stack(
        "peltarion",
        [
            ("conv", 32, {"padding": "same"}), ("pool",), ("bn",),
            ("conv", 64, {"padding": "same"}), ("pool",), ("bn",),
            ("conv", 128, {"padding": "same"}), ("bn",),
            ("gap",),
        ],
    )  # fmt: skip


# --------------------------------------------------------------------------- tutorial 003

_TUTORIAL003 = Recipe(
    optimizer="sgd",
    learning_rate=0.01,
    momentum=0.9,
    tutorial_loss="categorical_crossentropy",
    batch_size=32,
    epochs=10,
    validation="test",
    kfold=5,
)
_HE = {"kernel_initializer": "he_uniform"}


@register_model(
    tutorial="003", recipe=_TUTORIAL003, reported=0.9099, note="final model, test accuracy"
)
def baseline():
    """One conv layer (32, he_uniform), max-pool, Dense 100; SGD with momentum."""
    return stack("baseline", [("conv", 32, _HE), ("pool",), ("flat",), ("dense", 100, _HE)])


@register_model(tutorial="003", recipe=_TUTORIAL003, reported=0.91257, note="5-fold mean accuracy")
def baseline_same():
    """The baseline with 'same' padding."""
    return stack(
        "baseline_same",
        [("conv", 32, {**_HE, "padding": "same"}), ("pool",), ("flat",), ("dense", 100, _HE)],
    )


@register_model(tutorial="003", recipe=_TUTORIAL003, reported=0.91257, note="5-fold mean accuracy")
def baseline_wide():
    """The baseline with 64 filters and 'same' padding."""
    return stack(
        "baseline_wide",
        [("conv", 64, {**_HE, "padding": "same"}), ("pool",), ("flat",), ("dense", 100, _HE)],
    )


# --------------------------------------------------------------------------- tutorial 004


@register_model(
    tutorial="004",
    recipe=Recipe(optimizer="adam", batch_size=512, epochs=50, split_seed=12345),
    reported=0.90,
    note="90% test accuracy (92% training); softmax output instead of the tutorial's sigmoid",
)
def twoconv():
    """Two conv layers (64-32) with max-pooling, Dense 32."""
    return stack(
        "twoconv",
        [
            ("conv", 64),
            ("pool",),
            ("drop", 0.25),
            ("conv", 32),
            ("pool",),
            ("flat",),
            ("dense", 32),
        ],
    )
