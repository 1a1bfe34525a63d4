"""Pictures made from the VALIDATION split (held out by robust, resnet and the ensemble; never
the test split) for the tools that choose a setting: the images as they are and in every
picture style users give (fmnist_core.data.user_pictures), each as the Predict page reads it;
and the shipped robust model's start for the tools that try more epochs of it.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fmnist_core.analysis.predict import HEADLINE_MODEL, reading_views  # noqa: E402
from fmnist_core.contracts import recipe_split_seed  # noqa: E402
from fmnist_core.data.fashion_mnist import Dataset, load_dataset, stratified_split  # noqa: E402
from fmnist_core.data.preprocess import preprocess  # noqa: E402
from fmnist_core.data.user_pictures import PICTURE_SETS, render_set  # noqa: E402
from fmnist_core.models import get_spec  # noqa: E402
from fmnist_core.training.engine import fit  # noqa: E402
from fmnist_core.versions import find_artifact  # noqa: E402


def validation_images(n: int, seed: int = 0, ds: Dataset | None = None):
    """`n` images (sorted indices, chosen by `seed`) of the headline model's validation split,
    with their labels."""
    ds = ds or load_dataset()
    _, val = stratified_split(
        ds.y_train, 0.2, recipe_split_seed(find_artifact(HEADLINE_MODEL).manifest)
    )
    pick = val[np.sort(np.random.default_rng(seed).choice(len(val), n, replace=False))]
    return ds.x_train[pick], ds.y_train[pick]


def picture_sets(images: np.ndarray, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each picture set as preprocessed (the filled input, and the input as drawn), "raw" first."""
    sets = {"raw": (images, images)}
    for kind in PICTURE_SETS:
        preps = [preprocess(p) for p in render_set(kind, images, seed=seed)]
        x = np.stack([p.image for p in preps])
        sets[kind] = (x, np.stack([p.image if p.as_drawn is None else p.as_drawn for p in preps]))
    return sets


def readings(sets: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, list[np.ndarray]]:
    """Each set's readings for a model trained on drawings, as the Predict page reads a user's
    picture (the raw images once, as they are)."""
    return {k: [x] if k == "raw" else reading_views(x, drawn, mirrored=True)
            for k, (x, drawn) in sets.items()}  # fmt: skip


@dataclass
class RobustFineTune:
    """The shipped robust model's weights, its training and validation split: where the
    experiment tools (try_clipart_styles, try_class_shapes) start more epochs from."""

    ds: Dataset
    start: list  # the shipped robust's weights
    train: np.ndarray  # indices into the training split that robust trained on
    validation: np.ndarray  # the ones it held out

    @classmethod
    def load(cls) -> RobustFineTune:
        ds = load_dataset()
        train, validation = stratified_split(ds.y_train, 0.2, get_spec("robust").recipe.split_seed)
        return cls(ds, find_artifact("robust").load_model().get_weights(), train, validation)

    def run(self, x: np.ndarray, y: np.ndarray, epochs: int, **recipe: Any):
        """`epochs` more augmented epochs at a quarter of robust's learning rate, the same
        schedule, seed 7 (recipe settings can be overridden, e.g. augmentation="clipart");
        prints the time and returns the trained model."""
        base = get_spec("robust").recipe
        recipe = replace(base, epochs=0, augment_epochs=epochs, init_from="",
                         learning_rate=base.learning_rate / 4, **recipe)  # fmt: skip
        va = self.validation
        t0 = time.perf_counter()
        out = fit(get_spec("robust"), x, y, self.ds.x_train[va], self.ds.y_train[va], recipe,
                  seed=7, initial_weights=self.start)  # fmt: skip
        print(f"{epochs} epochs in {time.perf_counter() - t0:.0f} s", flush=True)
        return out.model
