"""Measure the clip-art styles before a recipe keeps them (issue 33: "measure each addition
on your proxy sets before keeping it").

Fine-tunes the shipped robust model for a few more epochs twice, from the same weights with
the same schedule: once with its own picture styles ("styles"), once with cartoon clip art
and three-quarter views added ("clipart"). Both train on robust's training split (its
validation split held out) and are scored on pictures made from that validation split (never
the test split): the images as they are, drawings, canvas strokes, silhouettes, flat and
cartoon clip art, photos, each answered as the Predict page answers a user's picture.

    python tools/try_clipart_styles.py [EPOCHS]      # default 2 epochs each
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fmnist_core.analysis.predict import mean_of_readings  # noqa: E402
from fmnist_core.classes import CLASS_NAMES  # noqa: E402
from fmnist_core.versions import find_artifact  # noqa: E402
from tools.validation_proxies import (  # noqa: E402
    RobustFineTune,
    picture_sets,
    readings,
    validation_images,
)

N = 1000  # validation images per picture set


def scores(model, sets, labels) -> dict[str, np.ndarray]:
    """Per set, which answers were right."""
    return {k: mean_of_readings(model, views).argmax(1) == labels
            for k, views in sets.items()}  # fmt: skip


def main() -> None:
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    tune = RobustFineTune.load()
    images, labels = validation_images(N, seed=1, ds=tune.ds)
    sets = readings(picture_sets(images, seed=3))
    results = {"shipped robust": scores(find_artifact("robust").load_model(), sets, labels)}
    x, y = tune.ds.x_train[tune.train], tune.ds.y_train[tune.train]
    for kind in ("styles", "clipart"):
        print(kind, end=": ")
        results[f"+{epochs} epochs {kind}"] = scores(
            tune.run(x, y, epochs, augmentation=kind), sets, labels
        )
    print(f"\n{N} validation images per set (robust held them out)")
    print(f"{'':26s}" + "".join(f"{k:>11s}" for k in sets))
    for name, right in results.items():
        print(f"{name:26s}" + "".join(f"{right[k].mean() * 100:10.1f}%" for k in sets))
    print("\nper class on cartoon clip art:")
    print(f"{'':26s}" + "".join(f"{c[:9]:>10s}" for c in CLASS_NAMES))
    for name, right in results.items():
        print(f"{name:26s}" + "".join(
            f"{right['clipart'][labels == c].mean() * 100:9.0f}%" for c in range(10)))  # fmt: skip


if __name__ == "__main__":
    main()
