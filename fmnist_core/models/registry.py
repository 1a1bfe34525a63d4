"""The model registry: a recipe's builder is registered by `@register_model` under its name,
with the recipe beside it (timm's pattern); every tool finds models here.

Every model takes (N, 28, 28, 1) pixels in 0-255 and returns ten class probabilities; the
scaling (and for VGG19 the resizing and channel repetition) is a layer inside the model, so a
saved .keras file needs nothing from this package to load and predict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from fmnist_core.contracts import Augmentation, Optimizer, Schedule, Validation
from fmnist_core.errors import FmnistError


class UnknownModelError(FmnistError):
    """A model name that is not in the registry."""


class WeightsUnavailableError(FmnistError):
    """Pretrained weights (ImageNet for VGG19) are neither cached nor downloadable."""


@dataclass(frozen=True)
class Recipe:
    """How the tutorial trained the model. Plain values; the CLI overrides any of them."""

    optimizer: Optimizer = "adam"
    learning_rate: float = 0.001
    momentum: float = 0.0
    # the tutorial's loss as written there; every run trains with engine.training_loss, the
    # same loss on integer labels (label-smoothed where a recipe says so; manifests record both)
    tutorial_loss: str = "sparse_categorical_crossentropy"
    batch_size: int = 32
    epochs: int = 10
    augment_epochs: int = 0  # a second phase on augmented batches (tutorial 000)
    # "split": stratified 80/20 of the training set; "test": train on all 60,000 and watch
    # the test set (what tutorials 001 and 003 did; nothing is selected on it)
    validation: Validation = "split"
    split_seed: int = 0
    early_stopping: int = 0  # patience in epochs; 0 = off. Restores the best epoch.
    kfold: int = 0  # the tutorial's k-fold evaluation (0 = none)
    # what the augmented phase does: "affine" (tutorial 000's rotation, shift, shear, zoom) or
    # "styles" (outlines, silhouettes, flat shades, big turns, mirrors: fmnist_core.data.augment),
    # "clipart" (the styles, cartoon clip art and three-quarter views), "shapes" (the styles,
    # long coats and bags with straps) or "crops"
    augmentation: Augmentation = "affine"
    schedule: Schedule = "constant"  # the learning rate: "cosine" decays to 0 by the end
    warmup_epochs: int = 0  # cosine only: the rate first rises linearly from 0 (one-cycle-like)
    label_smoothing: float = 0.0  # targets of 1 - s for the label, s / 9 for each other class
    weight_decay: float = 0.0  # decoupled (AdamW / SGD's), not on batch-norm and bias terms
    # fine-tuning: start from this registry model's trained weights (the same architecture,
    # trained on the same training split) instead of fresh ones; "" = fresh weights
    init_from: str = ""
    # the picture styles only (styles, clipart, shapes): the share of augmented images left as product photos (the rest drawn as
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


def create_model(name: str, **overrides: Any):
    return get_spec(name).build(**overrides)
