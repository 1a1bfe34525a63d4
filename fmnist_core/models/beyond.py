"""Our own architectures, "beyond the tutorials": a residual network, the robust network for
people's pictures, and the ensemble's averaging graph."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# The tutorials register first (the registry's order is the pages' order), and the ensemble's
# default members include a tutorial model.
from fmnist_core.models import tutorials  # noqa: F401
from fmnist_core.models.blocks import head, inputs_scaled, keras_module
from fmnist_core.models.registry import Recipe, create_model, register_model


def _beyond(recipe: Recipe, note: str, **options: Any) -> Callable:
    """Register one of our own models: no tutorial, no reported figure to match."""
    return register_model(tutorial="beyond", recipe=recipe, reported=None, note=note, **options)


def _residual_block(x, filters: int, stride: int, name: str):
    """A basic residual block: two 3x3 convolutions with batch norm, added to its input (a
    1x1 strided projection where the size or width changes), then ReLU."""
    layers = keras_module().layers
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                      kernel_initializer="he_normal", name=f"{name}_conv1")(x)  # fmt: skip
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.Activation("relu", name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False,
                      kernel_initializer="he_normal", name=f"{name}_conv2")(y)  # fmt: skip
    # the block's last batch norm starts at zero: each block begins as the identity
    y = layers.BatchNormalization(gamma_initializer="zeros", name=f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False,
                                 kernel_initializer="he_normal", name=f"{name}_proj")(x)  # fmt: skip
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


# Run as shipped: 36 epochs on the 2-core CPU in bfloat16 (a GPU run can take more epochs
# with --augment-epochs; the manifest records what was run).
_RESNET = Recipe(optimizer="sgd", learning_rate=0.1, momentum=0.9, weight_decay=5e-4,
                 batch_size=128, epochs=0, augment_epochs=36, augmentation="crops",
                 schedule="cosine", warmup_epochs=1, label_smoothing=0.1)  # fmt: skip


@_beyond(_RESNET, "trained on Fashion-MNIST's training split only: crops, mirrors, random erasing")
def resnet(widths: tuple = (32, 64, 128), blocks: int = 2):
    """A residual network (ResNet-14 sized for 28x28): three stages of residual blocks."""
    return _residual_network("resnet", widths, blocks)


def _residual_network(name: str, widths: tuple, blocks: int):
    layers = keras_module().layers
    inputs, x = inputs_scaled(name)
    x = layers.Conv2D(widths[0], 3, padding="same", use_bias=False,
                      kernel_initializer="he_normal", name="stem_conv")(x)  # fmt: skip
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for stage, filters in enumerate(widths):
        for b in range(blocks):
            stride = 2 if stage > 0 and b == 0 else 1
            x = _residual_block(x, filters, stride, f"stage{stage + 1}_block{b + 1}")
    x = layers.GlobalAveragePooling2D(name="average")(x)
    return head(x, inputs, name)


# Fine-tuned from resnet's trained weights (which held out the same validation split): learning
# the picture styles from scratch takes many epochs and costs accuracy on product photos;
# starting from a network that already reads them well, a few epochs of styles teach it
# drawings while it keeps most of that accuracy.
_ROBUST = Recipe(optimizer="sgd", learning_rate=0.02, momentum=0.9, weight_decay=5e-4,
                 batch_size=128, epochs=0, augment_epochs=12, augmentation="shapes",
                 schedule="cosine", label_smoothing=0.1, init_from="resnet",
                 photo_share=0.25)  # fmt: skip


@_beyond(_ROBUST, "trained on Fashion-MNIST's training split only, in the styles people draw "
         "and upload")  # fmt: skip
def robust(widths: tuple = (32, 64, 128), blocks: int = 2):
    """Drawings and clip art too: resnet, fine-tuned on outlines, silhouettes, turns."""
    return _residual_network("robust", widths, blocks)


# The ensemble's candidates: every registry model that can hold out the validation split.
ENSEMBLE_DEFAULT_MEMBERS = ("cnn4", "robust", "resnet")


@_beyond(
    Recipe(epochs=0, batch_size=1024),
    "the average of trained models' probabilities, the members chosen on the validation split",
    assembled=True,
)
def ensemble(members: tuple = ENSEMBLE_DEFAULT_MEMBERS, models: dict | None = None):
    """An ensemble: the average of several trained models' probabilities, in one model."""
    if models is None:  # the architecture, with fresh members (training assembles trained ones)
        models = {name: create_model(name) for name in members}
    return average_model(models)


def average_model(models: dict[str, Any], weights: dict[str, float] | None = None,
                  name: str = "ensemble"):  # fmt: skip
    """One Keras model: the same pixels into every member, their probabilities averaged
    (weighted by `weights`, which sum to 1; evenly without)."""
    keras = keras_module()
    inputs = keras.Input(shape=(28, 28, 1), name="pixels")
    outputs = []
    for member_name, model in models.items():
        member = keras.Model(model.inputs[0], model.outputs[0], name=member_name)
        outputs.append(member(inputs))
    if weights is None:
        mean = keras.layers.Average(dtype="float32", name="probabilities")(outputs)
        return keras.Model(inputs, mean, name=name)
    weighted = [
        keras.layers.Rescaling(float(weights[n]), dtype="float32", name=f"{n}_weight")(out)
        for n, out in zip(models, outputs)
    ]
    mean = keras.layers.Add(dtype="float32", name="probabilities")(weighted)
    return keras.Model(inputs, mean, name=name)
