"""Inside the CNN: the time of every view for one image and one model (warm: the model is
loaded, the image is new), and how faithful each kind of map is, for every shipped model.

Goal: every view <= 300 ms. Faithfulness: blanking the 20% of the item's pixels a map ranks
highest beats blanking a random 20% for >= 80% of 200 test images (the faithful map).
"""

import statistics
import time

import numpy as np

from fmnist_core.data.fashion_mnist import load_dataset
from fmnist_core.explain.attribution import FAITHFUL_METHOD, faithfulness, faithfulness_images
from fmnist_core.explain.explanation import explain
from fmnist_core.explain.heatmaps import evidence_picture, feature_map_picture, gradcam_picture
from fmnist_core.explain.inspector import Inspector, strongest_channels
from fmnist_core.figures.inside import layer_strip, picture_grid, value_grid
from fmnist_core.models import is_assembled
from fmnist_core.versions import available_artifacts

REPEAT = 10
ds = load_dataset()
artifacts, _ = available_artifacts()


def every_view(ins: Inspector, image: np.ndarray) -> None:
    """What the page computes for a new image: the strip, where it looked (top 3, both maps,
    as pictures), the first layer's maps as a grid and one enlarged, the arithmetic, the
    filters."""
    layer_strip(ins.info)
    ex = explain(ins, image, top=3)
    for v in ex.views:
        evidence_picture(ex.image, v.attribution), gradcam_picture(ex.image, v.gradcam)
    first = ins.first_conv().name
    maps = ins.activations(image)[first]
    order = strongest_channels(maps)[:64]
    top = float(maps.max()) or 1.0
    picture_grid([feature_map_picture(maps[..., c], top) for c in order], [""] * len(order), 8)
    value_grid(maps[..., order[0]])
    h, w = maps.shape[:2]
    ins.arithmetic(image, int(order[0]), h // 2, w // 2)
    ins.filters()


rows = []
picks = faithfulness_images(ds.y_test)
for art in artifacts:
    if is_assembled(art.name):  # whole models side by side: its members are measured
        continue
    ins = Inspector(art.load_model(), art.name)
    every_view(ins, ds.x_test[0])  # warm
    times = []
    for i in range(REPEAT):
        t = time.perf_counter()
        every_view(ins, ds.x_test[100 + i])
        times.append(time.perf_counter() - t)
    rates = {}
    for method in ("gradient_x_input", "integrated_gradients", "gradcam"):
        rates[method] = faithfulness(ins, ds.x_test[picks], method).rate
    rows.append((art.name, statistics.median(times) * 1000, max(times) * 1000, rates))
    print(f"{art.name}: every view median {rows[-1][1]:.0f} ms", flush=True)

print()
print(f"{'model':14s} {'views ms':>9s} {'max ms':>7s}   faithful rate: {'grad x input':>12s} "
      f"{'integrated':>10s} {'Grad-CAM':>9s}")  # fmt: skip
for name, med, top, r in rows:
    print(f"{name:14s} {med:9.0f} {top:7.0f}   {'':15s}{r['gradient_x_input']:12.0%} "
          f"{r['integrated_gradients']:10.0%} {r['gradcam']:9.0%}")  # fmt: skip
worst = max(med for _, med, _, _ in rows)
low = min(r[FAITHFUL_METHOD] for *_, r in rows)
print(f"\nslowest model's views: median {worst:.0f} ms (goal <= 300 ms): "
      f"{'OK' if worst <= 300 else 'OVER'}")  # fmt: skip
print(f"faithful map ({FAITHFUL_METHOD}): lowest rate {low:.0%} (goal >= 80%): "
      f"{'OK' if low >= 0.8 else 'UNDER'}")  # fmt: skip
