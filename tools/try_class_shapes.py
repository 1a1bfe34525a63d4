"""Measure class-aware shapes before any recipe adopts them (issue 33's long coats and bags
with straps, which tools/probe_named_misses.py finds robust reads badly).

Fine-tunes the shipped robust model twice for a few epochs, from the same weights with the
same schedule and picture styles: once on its training split as it is, once with half of its
coats made long (squeezed across to 60-85% of their width, so their height leads by more) and
half of its bags given a strap (the bag made smaller at the bottom of the square, a 1-2 px
strap from its top corners up), done once before training (so each changed image stays
changed through the run). Both are scored on 1,000 VALIDATION-split images in every picture
style and on long coats and bags with straps made from the validation split's coats and bags
as the probe makes them; never the test split.

    python tools/try_class_shapes.py [EPOCHS]      # default 2
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fmnist_core.analysis.predict import mean_of_readings, reading_views  # noqa: E402
from fmnist_core.data.preprocess import preprocess  # noqa: E402
from fmnist_core.versions import find_artifact  # noqa: E402
from tools.probe_named_misses import BAG, COAT, long_coat, strap_bag  # noqa: E402
from tools.validation_proxies import (  # noqa: E402
    RobustFineTune,
    picture_sets,
    readings,
    validation_images,
)

N = 1000


def longer_coat(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    width = int(round(28 * rng.uniform(0.6, 0.85)))
    narrow = np.asarray(Image.fromarray(img).resize((width, 28), Image.Resampling.BOX))
    out = np.zeros_like(img)
    left = (28 - width + 1) // 2
    out[:, left : left + width] = narrow
    return out


def bag_with_strap(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rise = float(rng.uniform(0.3, 0.7))
    side = int(round(28 / (1 + rise)))
    big = 4  # drawn at 4x, then reduced: smooth lines
    canvas = Image.new("L", (28 * big, 28 * big), 0)
    bag = Image.fromarray(img).resize((side * big, side * big), Image.Resampling.BICUBIC)
    left = (28 - side) // 2 * big
    canvas.paste(bag, (left, (28 - side) * big))
    rows = np.flatnonzero((np.asarray(bag) > 30).any(axis=1))
    cols = np.flatnonzero((np.asarray(bag) > 30).any(axis=0))
    if rows.size == 0:
        return img
    top = (28 - side) * big + rows[0]
    a, b = (left + cols[0] + 4, top + 2), (left + cols[-1] - 4, top + 2)
    width = int(rng.integers(1, 3)) * big
    shade = int(rng.integers(120, 256))
    draw = ImageDraw.Draw(canvas)
    peak = (int(rng.uniform(a[0], b[0])), 2)
    if rng.uniform() < 0.5:
        draw.line([a, peak, b], fill=shade, width=width, joint="curve")
    else:
        draw.line([a, (a[0] + width * 2, 2)], fill=shade, width=width)
        draw.line([b, (b[0] - width * 2, 2)], fill=shade, width=width)
    return np.asarray(canvas.resize((28, 28), Image.Resampling.BOX))


def with_class_shapes(x: np.ndarray, y: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = x.copy()
    for i in np.flatnonzero(((y == COAT) | (y == BAG)) & (rng.uniform(size=len(y)) < 0.5)):
        out[i] = (longer_coat if y[i] == COAT else bag_with_strap)(x[i], rng)
    return out


def probes(ds, va) -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    rng = np.random.default_rng(5)
    out = {}
    for name, label, make in (("long coats", COAT, long_coat), ("strap bags", BAG, strap_bag)):
        images = ds.x_train[va[ds.y_train[va] == label][:300]]
        preps = [preprocess(make(img, rng)) for img in images]
        x = np.stack([p.image for p in preps])
        drawn = np.stack([p.image if p.as_drawn is None else p.as_drawn for p in preps])
        out[name] = (reading_views(x, drawn, True), np.full(len(x), label))
    return out


def score(model, sets) -> dict[str, float]:
    return {k: float((mean_of_readings(model, views).argmax(1)
                      == labels).mean()) for k, (views, labels) in sets.items()}  # fmt: skip


def main() -> None:
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    tune = RobustFineTune.load()
    images, labels = validation_images(N, seed=1, ds=tune.ds)
    sets = {k: (v, labels) for k, v in readings(picture_sets(images, seed=3)).items()}
    sets.update(probes(tune.ds, tune.validation))
    results = {"shipped robust": score(find_artifact("robust").load_model(), sets)}
    x, y = tune.ds.x_train[tune.train], tune.ds.y_train[tune.train]
    # both arms train with the plain styles (not the recipe's own shapes): the shapes here are
    # the PIL ones done once above
    for name, shaped in (("styles", x), ("styles + class shapes", with_class_shapes(x, y))):
        print(name, end=": ")
        results[f"+{epochs} epochs {name}"] = score(
            tune.run(shaped, y, epochs, augmentation="styles"), sets
        )
    print(f"\n{N} validation images per set (robust held them out); probes: 300 each")
    print(f"{'':34s}" + "".join(f"{k[:10]:>11s}" for k in sets))
    for name, right in results.items():
        print(f"{name:34s}" + "".join(f"{right[k] * 100:10.1f}%" for k in sets))


if __name__ == "__main__":
    main()
