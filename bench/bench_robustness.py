"""Accuracy on pictures the way users have them, against the raw test images.

Each of 2,000 stratified test images is turned into a dark item on a white background,
enlarged 4-8x (bicubic), placed off-centre on a larger canvas, saved as an RGB JPEG
(quality 85), then run through our preprocessing. Goal: at most 3 points lost per model.
"""

import io

import numpy as np
from PIL import Image

from fmnist_core.data import load_dataset, stratified_subset
from fmnist_core.evaluate import predict_probabilities
from fmnist_core.predict import available_artifacts
from fmnist_core.preprocess import preprocess

N = 2000
ds = load_dataset()
idx = stratified_subset(ds.y_test, N, seed=0)
rng = np.random.default_rng(0)


def as_user_photo(img):
    scale = int(rng.integers(4, 9))
    big = Image.fromarray(255 - img).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    w, h = big.width + int(rng.integers(20, 200)), big.height + int(rng.integers(20, 200))
    canvas = Image.new("L", (w, h), 255)
    canvas.paste(
        big, (int(rng.integers(0, w - big.width + 1)), int(rng.integers(0, h - big.height + 1)))
    )
    buf = io.BytesIO()
    canvas.convert("RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue()


originals = ds.x_test[idx]
processed = np.stack([preprocess(as_user_photo(img)).image for img in originals])
labels = ds.y_test[idx]
corr = [
    np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1]
    for a, b in zip(originals, processed)
]
print(
    f"{N} test images; pixel correlation with the original: median {np.median(corr):.3f}, 5th percentile {np.percentile(corr, 5):.3f}"
)
print(f"{'model':14s} {'raw':>7s} {'user-like':>9s} {'lost':>6s}")
worst = 0.0
for art in available_artifacts()[0]:
    model = art.load_model()
    raw = float((predict_probabilities(model, originals).argmax(1) == labels).mean())
    user = float((predict_probabilities(model, processed).argmax(1) == labels).mean())
    worst = max(worst, raw - user)
    print(f"{art.name:14s} {raw * 100:6.2f}% {user * 100:8.2f}% {(raw - user) * 100:5.2f}")
print(f"largest loss: {worst * 100:.2f} points (goal <= 3)")
