"""Accuracy on pictures the way users have them, against the raw test images.

Each test image (all 10,000 by default: N sets a stratified subset) is turned into a dark
item on a white background, enlarged 4-8x (bicubic), placed off-centre on a larger canvas,
saved as an RGB JPEG (quality 85), then run through our preprocessing. Goal: at most 3 points
lost per model. On 2,000 images a model's loss moved by about a point between samples (the
worst model was peltarion at 3.2 points on 1,000 images in bench_drawings, baseline_same at
2.8 on 2,000 here): the whole test set settles it, in about two minutes.

Then the same white-background pictures at JPEG qualities 70 and 95 and as lossless PNGs
(the same sizes and places: one random stream per variant): how much of a loss is the JPEG's
and how much the resizing's. VARIANTS=0 skips them.
"""

import os

import numpy as np

from fmnist_core.analysis.evaluate import predict_probabilities
from fmnist_core.data.fashion_mnist import load_dataset, stratified_subset
from fmnist_core.data.preprocess import preprocess
from fmnist_core.data.user_pictures import user_photo
from fmnist_core.versions import available_artifacts

N = int(os.environ.get("N", 10000))
ds = load_dataset()
idx = stratified_subset(ds.y_test, N, seed=0)


def pictures(quality):
    rng = np.random.default_rng(0)  # the same sizes and places for every variant
    return np.stack([preprocess(user_photo(img, rng, quality)).image for img in originals])


originals = ds.x_test[idx]
labels = ds.y_test[idx]
sets = {"user-like": pictures(85)}
if os.environ.get("VARIANTS", "1") != "0":
    sets.update({"JPEG 70": pictures(70), "JPEG 95": pictures(95), "PNG": pictures(None)})
corr = [
    np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1]
    for a, b in zip(originals, sets["user-like"])
]
print(
    f"{N} test images; pixel correlation with the original: median {np.median(corr):.3f}, 5th percentile {np.percentile(corr, 5):.3f}"
)
print(f"{'model':14s} {'raw':>7s}" + "".join(f" {k:>10s}" for k in sets) + "   (points lost)")
worst = {k: 0.0 for k in sets}
for art in available_artifacts()[0]:
    model = art.load_model()
    raw = float((predict_probabilities(model, originals).argmax(1) == labels).mean())
    lost = {}
    for k, x in sets.items():
        lost[k] = raw - float((predict_probabilities(model, x).argmax(1) == labels).mean())
        worst[k] = max(worst[k], lost[k])
    print(f"{art.name:14s} {raw * 100:6.2f}%" + "".join(f" {lost[k] * 100:10.2f}" for k in sets))
print(f"largest loss on user-like photos: {worst['user-like'] * 100:.2f} points (goal <= 3)")
for k in list(sets)[1:]:
    print(f"largest loss, {k}: {worst[k] * 100:.2f} points")
