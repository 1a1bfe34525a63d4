"""How the headline model does on two kinds of picture the issue names as misses, made from
TEST-split images (no third-party picture): long coats (coats stretched to 1.2-1.6 times their
height, as long coats and lab coats are drawn), coats with a long hem (the coat as it is, a
skirt 30-70% of its height below it, flaring a little, in the shade of the coat's body,
with the sleeves ending where they did: made unlike the "shapes" augmentation's hem, which
repeats the coat's last row) and bags with long straps (a thin strap or two
from the bag's top corners up to 40-90% of its height again, as backpacks and shoulder bags
are drawn). Each is enlarged 6x as a dark item on white and run through the app's
preprocessing, then answered as the Predict page answers (robust's four readings). Printed:
the share right, and what the rest were called.

    python tools/probe_named_misses.py [NAME@VERSION]    # default: the headline model
"""

from __future__ import annotations

import io
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fmnist_core.analysis.evaluate import predict_probabilities  # noqa: E402
from fmnist_core.analysis.predict import HEADLINE_MODEL, mean_of_readings, reading_views  # noqa: E402
from fmnist_core.classes import CLASS_NAMES  # noqa: E402
from fmnist_core.data.fashion_mnist import load_dataset  # noqa: E402
from fmnist_core.data.preprocess import preprocess  # noqa: E402
from fmnist_core.versions import find_artifact  # noqa: E402

SCALE = 6
COAT, BAG = CLASS_NAMES.index("Coat"), CLASS_NAMES.index("Bag")


def _png(dark_on_white: Image.Image) -> bytes:
    canvas = Image.new("L", (dark_on_white.width + 80, dark_on_white.height + 80), 255)
    canvas.paste(dark_on_white, (40, 40))
    buf = io.BytesIO()
    canvas.save(buf, "PNG")
    return buf.getvalue()


def long_coat(img: np.ndarray, rng: np.random.Generator) -> bytes:
    stretch = float(rng.uniform(1.2, 1.6))
    size = (28 * SCALE, round(28 * SCALE * stretch))
    return _png(Image.fromarray(255 - img).resize(size, Image.Resampling.BICUBIC))


def hem_coat(img: np.ndarray, rng: np.random.Generator) -> bytes:
    coat = Image.fromarray(255 - img).resize((28 * SCALE, 28 * SCALE), Image.Resampling.BICUBIC)
    rows = np.flatnonzero((img > 30).any(axis=1))
    cols = np.flatnonzero((img > 30).any(axis=0))
    bottom, left, right = (rows[-1] + 1) * SCALE, cols[0] * SCALE, (cols[-1] + 1) * SCALE
    width = right - left
    inner = (left + int(0.22 * width), right - int(0.22 * width))
    body = img[rows[0] : rows[-1] + 1, inner[0] // SCALE : inner[1] // SCALE]
    shade = 255 - int(np.median(body[body > 30])) if (body > 30).any() else 128
    length = int((bottom - rows[0] * SCALE) * rng.uniform(0.3, 0.7))
    flare = int(width * rng.uniform(0.0, 0.08))
    out = Image.new("L", (coat.width + 2 * flare, bottom + length + SCALE), 255)
    out.paste(coat, (flare, 0))
    draw = ImageDraw.Draw(out)
    top_y = bottom - 2 * SCALE  # overlapping the coat's own hem
    draw.polygon(
        [(inner[0] + flare, top_y), (inner[1] + flare, top_y),
         (inner[1] + 2 * flare, bottom + length), (inner[0], bottom + length)],
        fill=shade,
    )  # fmt: skip
    return _png(out)


def strap_bag(img: np.ndarray, rng: np.random.Generator) -> bytes:
    bag = Image.fromarray(255 - img).resize((28 * SCALE, 28 * SCALE), Image.Resampling.BICUBIC)
    rows = np.flatnonzero((img > 30).any(axis=1))
    cols = np.flatnonzero((img > 30).any(axis=0))
    top, left, right = rows[0] * SCALE, cols[0] * SCALE, (cols[-1] + 1) * SCALE
    height = (rows[-1] + 1) * SCALE - top
    rise = int(height * rng.uniform(0.4, 0.9))
    out = Image.new("L", (bag.width, bag.height + rise), 255)
    out.paste(bag, (0, rise))
    draw = ImageDraw.Draw(out)
    width = int(rng.integers(3, 8))
    peak = (int(rng.uniform(left + 0.3 * (right - left), right - 0.3 * (right - left))), 0)
    shade = int(rng.integers(0, 90))
    a, b = (left + width, top + rise + width), (right - width, top + rise + width)
    if rng.uniform() < 0.5:  # one strap over the top
        draw.line([a, peak, b], fill=shade, width=width, joint="curve")
    else:  # two straps, a backpack's
        draw.line([a, (a[0] + width * 3, 0)], fill=shade, width=width)
        draw.line([b, (b[0] - width * 3, 0)], fill=shade, width=width)
    return _png(out)


def main() -> None:
    ds = load_dataset()
    model = find_artifact(sys.argv[1] if len(sys.argv) > 1 else HEADLINE_MODEL).load_model()
    rng = np.random.default_rng(0)
    for name, label, make in (
        ("long coats", COAT, long_coat),
        ("coats, long hem", COAT, hem_coat),
        ("bags with straps", BAG, strap_bag),
    ):
        images = ds.x_test[ds.y_test == label][:300]
        preps = [preprocess(make(img, rng)) for img in images]
        x = np.stack([p.image for p in preps])
        drawn = np.stack([p.image if p.as_drawn is None else p.as_drawn for p in preps])
        plain = predict_probabilities(model, ds.x_test[ds.y_test == label][:300]).argmax(1)
        probs = mean_of_readings(model, reading_views(x, drawn, True))
        said = probs.argmax(1)
        wrong = Counter(CLASS_NAMES[c] for c in said[said != label]).most_common(3)
        print(f"{name:17s} right {np.mean(said == label):6.1%} (as the test images are: "
              f"{np.mean(plain == label):.1%}); called {wrong}")  # fmt: skip


if __name__ == "__main__":
    main()
