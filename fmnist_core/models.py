"""The model registry: one decorated builder per tutorial recipe, with the recipe beside it.

Every model takes (N, 28, 28, 1) pixels in 0-255 and returns ten class probabilities; the
scaling (and for VGG19 the resizing and channel repetition) is a layer inside the model, so a
saved .keras file needs nothing from this package to load and predict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from fmnist_core.classes import NUM_CLASSES
from fmnist_core.errors import FmnistError


class UnknownModelError(FmnistError):
    """A model name that is not in the registry."""


class WeightsUnavailableError(FmnistError):
    """Pretrained weights (ImageNet for VGG19) are neither cached nor downloadable."""


@dataclass(frozen=True)
class Recipe:
    """How the tutorial trained the model. Plain values; the CLI overrides any of them."""

    optimizer: str = "adam"  # "adam" or "sgd"
    learning_rate: float = 0.001
    momentum: float = 0.0
    # the tutorial's loss as written there; every run trains with engine.training_loss, the
    # same loss on integer labels (label-smoothed where a recipe says so; manifests record both)
    tutorial_loss: str = "sparse_categorical_crossentropy"
    batch_size: int = 32
    epochs: int = 10
    augment_epochs: int = 0  # a second phase on augmented batches (seed 000)
    # "split": stratified 80/20 of the training set; "test": train on all 60,000 and watch
    # the test set (what seeds 001 and 003 did; nothing is selected on it)
    validation: str = "split"
    split_seed: int = 0
    early_stopping: int = 0  # patience in epochs; 0 = off. Restores the best epoch.
    kfold: int = 0  # the tutorial's k-fold evaluation (0 = none)
    # what the augmented phase does: "affine" (seed 000's rotation, shift, shear, zoom) or
    # "styles" (outlines, silhouettes, flat shades, big turns, mirrors: fmnist_core.augment)
    augmentation: str = "affine"
    schedule: str = "constant"  # learning rate: "constant" or "cosine" (decays to 0 by the end)
    warmup_epochs: int = 0  # cosine only: the rate first rises linearly from 0 (one-cycle-like)
    label_smoothing: float = 0.0  # targets of 1 - s for the label, s / 9 for each other class
    weight_decay: float = 0.0  # decoupled (AdamW / SGD's), not on batch-norm and bias terms
    # fine-tuning: start from this registry model's trained weights (the same architecture,
    # trained on the same training split) instead of fresh ones; "" = fresh weights
    init_from: str = ""
    # "styles" only: the share of augmented images left as product photos (the rest drawn as
    # outlines, silhouettes, flat shades in STYLE_SHARES' proportions); None = STYLE_SHARES'
    photo_share: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[..., Any]
    recipe: Recipe
    tutorial: str  # "000 - The 4 CNN models ..."
    reported_accuracy: float | None  # test accuracy the tutorial reported, in [0, 1]
    reported_note: str = ""
    description: str = ""
    needs_pretrained_weights: bool = False
    build_options: dict[str, Any] = field(default_factory=dict)
    # made from other trained models (the ensemble), not fitted: training chooses its members
    assembled: bool = False

    @property
    def beyond_tutorials(self) -> bool:
        """Our own model, not a tutorial's: it has no reported figure to match."""
        return self.tutorial == BEYOND

    def build(self, **overrides: Any):
        return self.builder(**{**self.build_options, **overrides})


TUTORIALS = {
    "000": "000 - The 4 CNN models that can classify your fashion images",
    "001": "001 - What are you wearing?",
    "002": "002 - Classifying images of clothes (Peltarion)",
    "003": "003 - How to develop a deep CNN for Fashion-MNIST",
    "004": "004 - Intuitively create CNN for fashion image classification",
    "beyond": "Beyond the tutorials",
}
BEYOND = TUTORIALS["beyond"]
_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    *,
    tutorial: str,
    recipe: Recipe,
    reported: float | None,
    note: str = "",
    needs_pretrained_weights: bool = False,
    assembled: bool = False,
    **build_options: Any,
) -> Callable:
    """Add a builder to the registry under its function name (or `name=` in build_options)."""

    def wrap(fn: Callable) -> Callable:
        name = build_options.pop("name", fn.__name__)
        _REGISTRY[name] = ModelSpec(
            name=name,
            builder=fn,
            recipe=recipe,
            tutorial=TUTORIALS[tutorial],
            reported_accuracy=reported,
            reported_note=note,
            description=(fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "",
            needs_pretrained_weights=needs_pretrained_weights,
            build_options=dict(build_options),
            assembled=assembled,
        )
        return fn

    return wrap


def list_models() -> list[str]:
    return list(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(
            f"Unknown model {name!r}. Known models: {', '.join(_REGISTRY)}"
        ) from None


def is_assembled(name: str) -> bool:
    """A model made of other trained models (the ensemble); False for unknown names."""
    spec = _REGISTRY.get(name.split("@")[0])
    return bool(spec and spec.assembled)


def display_name(name: str) -> str:
    """The model's name as pages show it: our own models are marked as not a tutorial's."""
    spec = _REGISTRY.get(name)
    return f"{name} (beyond the tutorials)" if spec and spec.beyond_tutorials else name


def source_label(name: str) -> str:
    """Where a recipe comes from, in a few characters: '000'...'004' or 'beyond'."""
    spec = get_spec(name)
    return "beyond" if spec.beyond_tutorials else spec.tutorial[:3]


def recipe_in_words(recipe: Recipe) -> str:
    """A recipe as a sentence: epochs, augmentation, optimiser, batch size."""
    parts = []
    if recipe.init_from:
        parts.append(f"starts from {recipe.init_from}'s trained weights (fine-tuning)")
    if recipe.epochs:
        parts.append(f"{recipe.epochs} epochs")
    if recipe.augment_epochs:
        what = {
            "styles": "in the styles people draw and upload (outlines, silhouettes, flat "
            "shades, contrast, blur, turns up to 45 degrees, mirror images, thicker and "
            "thinner items)",
            "crops": "on random crops, mirror images and randomly erased patches",
        }.get(recipe.augmentation, "on rotated, shifted, sheared and zoomed images")
        if recipe.augmentation == "styles" and recipe.photo_share is not None:
            what += f", {recipe.photo_share:.0%} of the images left as product photos"
        parts.append(f"{'then ' if recipe.epochs else ''}{recipe.augment_epochs} epochs {what}")
    optimiser = {"adam": "Adam", "sgd": "SGD"}.get(recipe.optimizer, recipe.optimizer)
    rate = f"learning rate {recipe.learning_rate:g}"
    if recipe.schedule == "cosine":
        warmup = f" after a {recipe.warmup_epochs}-epoch warm-up" if recipe.warmup_epochs else ""
        rate += f" decaying to 0 (cosine){warmup}"
    if recipe.momentum:
        rate += f", momentum {recipe.momentum:g}"
    if recipe.weight_decay:
        rate += f", weight decay {recipe.weight_decay:g}"
    parts.append(f"{optimiser}, {rate}, batch {recipe.batch_size}")
    if recipe.label_smoothing:
        parts.append(f"label smoothing {recipe.label_smoothing:g}")
    return "; ".join(parts)


# The words recipes and descriptions use, for a class of beginners (the Train page shows the
# ones a model's description and recipe contain).
GLOSSARY = {
    "epoch": "one pass over all the training images",
    "batch": "how many images the model sees before each small correction of its weights",
    "learning rate": "how big each correction is",
    "Adam": "an optimiser that adapts each weight's step size as it learns (the usual default)",
    "SGD": "stochastic gradient descent: every weight moves a fixed share of its gradient",
    "momentum": "SGD keeps some of its previous step, so it rolls through small bumps",
    "cosine": "the learning rate falls smoothly to zero over the run",
    "warm-up": "the learning rate starts at zero and rises for the first epoch, so early "
    "steps cannot throw the weights far off",
    "weight decay": "every step shrinks the weights a little, which keeps the model simple",
    "label smoothing": "the targets say 90% sure instead of 100%, so the model does not learn "
    "to be over-confident",
    "random crops": "the picture shifted by a few pixels in any direction",
    "erased": "random erasing: a random rectangle of the picture is painted over, so the model "
    "cannot rely on one part of the item",
    "residual": "a shortcut adds a block's input to its output, so deep networks stay trainable",
    "fine-tuning": "training starts from another trained model's weights instead of "
    "random ones, so it builds on what that model already learned",
    "ensemble": "several models answer and their probabilities are averaged",
    "he_uniform": "how the weights start: random, scaled for ReLU layers (He et al., 2015)",
    "conv": "a convolution: small filters slid over the image, each looking for one pattern",
    "pool": "max-pooling: keeps the strongest response in each 2x2 patch, halving the size",
    "dropout": "switches off a random share of units while training, so none is relied on alone",
    "batch norm": "batch normalisation: rescales each layer's outputs, which steadies training",
    "Dense": "a fully connected layer: every input feeds every unit",
    "augmented": "training images changed on the fly (turned, shifted, redrawn) so the model "
    "learns what stays the same",
    "k-fold": "train k times, each time holding out a different k-th of the data to test on",
}


def glossary_for(text: str) -> dict[str, str]:
    """The GLOSSARY entries whose term appears in `text` (case-insensitive)."""
    low = text.lower().replace("-", " ")
    return {
        term: words for term, words in GLOSSARY.items() if term.lower().replace("-", " ") in low
    }


def create_model(name: str, **overrides: Any):
    return get_spec(name).build(**overrides)


# --------------------------------------------------------------------------- building blocks


def _keras():
    import keras  # imported on first build, so listing models stays instant

    return keras


def _inputs_scaled(name: str):
    keras = _keras()
    inputs = keras.Input(shape=(28, 28, 1), name="pixels")
    return inputs, keras.layers.Rescaling(1.0 / 255, name="scale_0_1")(inputs)


def _head(x, inputs, name: str):
    layers = _keras().layers
    x = layers.Dense(NUM_CLASSES, name="logits")(x)
    # float32 softmax keeps probabilities exact under mixed precision on a GPU
    outputs = layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    return _keras().Model(inputs, outputs, name=name)


def _stack(name: str, spec: list[tuple]):
    """Build scaled input -> layers from a compact list -> softmax head."""
    layers = _keras().layers
    inputs, x = _inputs_scaled(name)
    for kind, *args in spec:
        if kind == "conv":
            filters, kw = args[0], (args[1] if len(args) > 1 else {})
            x = layers.Conv2D(filters, 3, activation="relu", **kw)(x)
        elif kind == "pool":
            x = layers.MaxPooling2D(2)(x)
        elif kind == "drop":
            x = layers.Dropout(args[0])(x)
        elif kind == "bn":
            x = layers.BatchNormalization()(x)
        elif kind == "flat":
            x = layers.Flatten()(x)
        elif kind == "gap":
            x = layers.GlobalAveragePooling2D()(x)
        elif kind == "dense":
            units, kw = args[0], (args[1] if len(args) > 1 else {})
            x = layers.Dense(units, activation="relu", **kw)(x)
        else:  # pragma: no cover - a typo in a spec list
            raise ValueError(kind)
    return _head(x, inputs, name)


# --------------------------------------------------------------------------- seed 000

_SEED000 = Recipe(optimizer="adam", tutorial_loss="categorical_crossentropy", batch_size=256,
                  epochs=10, augment_epochs=50)  # fmt: skip
_SEED000_NOTE = "test accuracy after 10 epochs + 50 augmented epochs"


@register_model(tutorial="000", recipe=_SEED000, reported=0.9229, note=_SEED000_NOTE)
def cnn1():
    """One conv layer: Conv 32, max-pool, dropout, Dense 128."""
    return _stack(
        "cnn1",
        [("conv", 32), ("pool",), ("drop", 0.2), ("flat",), ("dense", 128)],
    )


@register_model(tutorial="000", recipe=_SEED000, reported=0.9117, note=_SEED000_NOTE)
def cnn3():
    """Three conv layers (32-64-128) with dropout after each."""
    return _stack(
        "cnn3",
        [
            ("conv", 32), ("pool",), ("drop", 0.25),
            ("conv", 64), ("pool",), ("drop", 0.25),
            ("conv", 128), ("drop", 0.4),
            ("flat",), ("dense", 128), ("drop", 0.3),
        ],
    )  # fmt: skip


@register_model(tutorial="000", recipe=_SEED000, reported=0.9352, note=_SEED000_NOTE)
def cnn4():
    """Four conv layers with batch normalisation, two dense layers."""
    return _stack(
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
    keras = _keras()
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
    layers = _keras().layers
    inputs = _keras().Input(shape=(28, 28, 1), name="pixels")
    x = layers.Resizing(image_size, image_size, name="resize")(inputs)
    x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    # VGG's own preprocessing: 0-255 pixels minus the ImageNet channel means (BGR order)
    x = layers.Normalization(mean=VGG_MEAN_BGR, variance=(1.0, 1.0, 1.0), name="vgg_mean")(x)
    x = vgg19_base(image_size, weights)(x, training=False)
    x = layers.Flatten()(x)
    x = layers.Dense(512, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    return _head(x, inputs, "vgg19")


# --------------------------------------------------------------------------- seed 001


@register_model(
    tutorial="001",
    recipe=Recipe(optimizer="adam", batch_size=32, epochs=10, validation="test"),
    reported=0.90,
    note="about 90% validation (= test) accuracy after 10 epochs",
)
def strided3():
    """Three stride-2 conv layers (32-64-128), no pooling, Dense 512."""
    layers = _keras().layers
    inputs, x = _inputs_scaled("strided3")
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, strides=2, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Dense(512, activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    return _head(x, inputs, "strided3")


# --------------------------------------------------------------------------- seed 002


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
    return _stack(
        "peltarion",
        [
            ("conv", 32, {"padding": "same"}), ("pool",), ("bn",),
            ("conv", 64, {"padding": "same"}), ("pool",), ("bn",),
            ("conv", 128, {"padding": "same"}), ("bn",),
            ("gap",),
        ],
    )  # fmt: skip


# --------------------------------------------------------------------------- seed 003

_SEED003 = Recipe(
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


@register_model(tutorial="003", recipe=_SEED003, reported=0.9099, note="final model, test accuracy")
def baseline():
    """One conv layer (32, he_uniform), max-pool, Dense 100; SGD with momentum."""
    return _stack("baseline", [("conv", 32, _HE), ("pool",), ("flat",), ("dense", 100, _HE)])


@register_model(tutorial="003", recipe=_SEED003, reported=0.91257, note="5-fold mean accuracy")
def baseline_same():
    """The baseline with 'same' padding."""
    return _stack(
        "baseline_same",
        [("conv", 32, {**_HE, "padding": "same"}), ("pool",), ("flat",), ("dense", 100, _HE)],
    )


@register_model(tutorial="003", recipe=_SEED003, reported=0.91257, note="5-fold mean accuracy")
def baseline_wide():
    """The baseline with 64 filters and 'same' padding."""
    return _stack(
        "baseline_wide",
        [("conv", 64, {**_HE, "padding": "same"}), ("pool",), ("flat",), ("dense", 100, _HE)],
    )


# --------------------------------------------------------------------------- seed 004


@register_model(
    tutorial="004",
    recipe=Recipe(optimizer="adam", batch_size=512, epochs=50, split_seed=12345),
    reported=0.90,
    note="90% test accuracy (92% training); softmax output instead of the tutorial's sigmoid",
)
def twoconv():
    """Two conv layers (64-32) with max-pooling, Dense 32."""
    return _stack(
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


# --------------------------------------------------------------------------- beyond the tutorials


def _beyond(recipe: Recipe, note: str, **options: Any) -> Callable:
    """Register one of our own models: no tutorial, no reported figure to match."""
    return register_model(tutorial="beyond", recipe=recipe, reported=None, note=note, **options)


def _residual_block(x, filters: int, stride: int, name: str):
    """A basic residual block: two 3x3 convolutions with batch norm, added to its input (a
    1x1 strided projection where the size or width changes), then ReLU."""
    layers = _keras().layers
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
    layers = _keras().layers
    inputs, x = _inputs_scaled(name)
    x = layers.Conv2D(widths[0], 3, padding="same", use_bias=False,
                      kernel_initializer="he_normal", name="stem_conv")(x)  # fmt: skip
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for stage, filters in enumerate(widths):
        for b in range(blocks):
            stride = 2 if stage > 0 and b == 0 else 1
            x = _residual_block(x, filters, stride, f"stage{stage + 1}_block{b + 1}")
    x = layers.GlobalAveragePooling2D(name="average")(x)
    return _head(x, inputs, name)


# Fine-tuned from resnet's trained weights (which held out the same validation split): learning
# the picture styles from scratch took the earlier batch-norm CNN 64 epochs (105 minutes on
# this CPU) for 91.6% on the test set; starting from a network that already reads product
# photos at 94.5%, a few epochs of styles teach it drawings while it keeps most of that.
_ROBUST = Recipe(optimizer="sgd", learning_rate=0.02, momentum=0.9, weight_decay=5e-4,
                 batch_size=128, epochs=0, augment_epochs=12, augmentation="styles",
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
    from fmnist_core.ensemble import average_model

    if models is None:  # the architecture, with fresh members (training assembles trained ones)
        models = {name: create_model(name) for name in members}
    return average_model(models)
