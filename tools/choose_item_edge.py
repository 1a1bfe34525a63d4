"""Choose where preprocessing puts an item's edge: ITEM_EDGE_SHARE in fmnist_core/data/preprocess.py.

The item's box is the pixels above the background's noise and above this share of the item's
typical contrast. Too low, and the soft rim of an enlarged or blurred picture widens the item
by a pixel at 28x28; too high, and faint parts of an item are cut off and the rest stretched.

On 1,000 stratified VALIDATION-split images (held out by robust; never the test split), for
each share: how far the user-like photos (white-background PNGs and JPEGs at quality 85, as
bench_robustness makes them) come out from the original pixels (mean absolute difference),
the points every tutorial model loses on them against the raw images, and robust's accuracy
on every picture set (read as the Predict page reads them). Pick the share with the smallest
worst loss on photos that costs robust nothing on the other sets. Most tutorial models trained
on these images (they hold out no validation split): compare shares, not absolute figures.

    python tools/choose_item_edge.py [SHARE,SHARE,...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fmnist_core.data.preprocess as preprocessing  # noqa: E402
from fmnist_core.analysis.predict import HEADLINE_MODEL, mean_of_readings, reading_views  # noqa: E402
from fmnist_core.data.user_pictures import PICTURE_SETS, render_set, user_photo  # noqa: E402
from fmnist_core.models import get_spec  # noqa: E402
from fmnist_core.versions import available_artifacts, find_artifact  # noqa: E402
from tools.validation_proxies import validation_images  # noqa: E402

N = 1000


def main(shares: list[float]) -> None:
    images, labels = validation_images(N)
    photos = {}
    for quality in (None, 85):
        rng = np.random.default_rng(0)  # the same sizes and places for both
        photos["PNG" if quality is None else f"JPEG {quality}"] = [
            user_photo(img, rng, quality) for img in images
        ]
    sets = {kind: render_set(kind, images, seed=2) for kind in PICTURE_SETS}
    tutorials = {
        a.name: a.load_model()
        for a in available_artifacts()[0]
        if not get_spec(a.name).beyond_tutorials
    }
    robust = find_artifact(HEADLINE_MODEL).load_model()
    raw = {n: _accuracy(m, [images], labels) for n, m in tutorials.items()}
    print(f"{N} validation images. Photos: mean |difference| from the original (0-255), then "
          "the largest loss of a tutorial model (points, which model). Robust on each set (%).")  # fmt: skip
    print(f"{'share':>5s} " + " ".join(f"{k:>22s}" for k in photos) + "  "
          + " ".join(f"{k[:8]:>8s}" for k in sets))  # fmt: skip
    for share in shares:
        preprocessing.ITEM_EDGE_SHARE = share
        cols = []
        for pictures in photos.values():
            x = np.stack([preprocessing.preprocess(p).image for p in pictures])
            diff = float(np.abs(x.astype(float) - images).mean())
            lost = {n: raw[n] - _accuracy(m, [x], labels) for n, m in tutorials.items()}
            worst = max(lost, key=lost.__getitem__)
            cols.append(f"{diff:5.2f} {lost[worst] * 100:5.2f} {worst[:10]:>10s}")
        for pictures in sets.values():
            preps = [preprocessing.preprocess(p) for p in pictures]
            x = np.stack([p.image for p in preps])
            drawn = np.stack([p.image if p.as_drawn is None else p.as_drawn for p in preps])
            cols.append(f"{_accuracy(robust, reading_views(x, drawn, True), labels) * 100:8.1f}")
        print(f"{share:5.2f} " + " ".join(cols), flush=True)


def _accuracy(model, views: list, labels: np.ndarray) -> float:
    probs = mean_of_readings(model, views)
    return float((probs.argmax(1) == labels).mean())


if __name__ == "__main__":
    main([float(s) for s in (sys.argv[1:] or ["0,0.1,0.15,0.2,0.25,0.3"])[0].split(",")])
