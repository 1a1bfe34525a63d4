"""Recipes in words for people: a recipe as a sentence, and a glossary of the terms used."""

from __future__ import annotations

from fmnist_core.contracts import PICTURE_STYLE_AUGMENTATIONS
from fmnist_core.models.registry import Recipe


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
            "clipart": "in the styles people draw and upload (outlines, silhouettes, flat "
            "shades, cartoon clip art, contrast, blur, turns up to 45 degrees, three-quarter "
            "views, mirror images, thicker and thinner items)",
            "shapes": "in the styles people draw and upload (outlines, silhouettes, flat "
            "shades, contrast, blur, turns up to 45 degrees, mirror images, thicker and "
            "thinner items), a quarter of the coats made long and a quarter of the bags given "
            "straps",
            "crops": "on random crops, mirror images and randomly erased patches",
        }.get(recipe.augmentation, "on rotated, shifted, sheared and zoomed images")
        if recipe.augmentation in PICTURE_STYLE_AUGMENTATIONS and recipe.photo_share is not None:
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
