"""Choose how the Predict page's headline answers (issue 33): one model, a small ensemble, or
more readings of the same picture.

On 1,000 VALIDATION-split images (held out by robust, resnet and the ensemble) as they are and
in every picture style, each candidate's accuracy per set and on all pictures, and the time of
its calls on one picture's readings (median of 30; plain eager calls, so compare candidates by
it: the Predict page's compiled call of all models takes far less, see bench_predict). A model trained on
drawings reads a user's picture four ways (filled and as drawn, each mirrored); "shifted" adds
those four moved one pixel up, down, left and right (20 readings). Extra models named on the
command line (a cache version NAME@ID, or a folder with a .keras file) join as candidates.

    python tools/choose_headline.py [NAME@ID ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fmnist_core.analysis.predict import mean_of_readings, reads_drawings  # noqa: E402
from fmnist_core.versions import find_artifact, split_ref  # noqa: E402
from tools.validation_proxies import picture_sets, readings, validation_images  # noqa: E402

N = 1000
SHIFTS = [(0, 1), (0, -1), (1, 0), (-1, 0)]


def shifted(views: list[np.ndarray]) -> list[np.ndarray]:
    return views + [np.roll(v, s, axis=(1, 2)) for v in views for s in SHIFTS]


def main(extra: list[str]) -> None:
    images, labels = validation_images(N)
    sets = picture_sets(images, seed=2)
    drawn_reads = readings(sets)
    plain_reads = {k: [x] for k, (x, _) in sets.items()}
    names = ["robust", "resnet", "ensemble", *extra]
    models = {n: find_artifact(n).load_model() for n in names}
    probs: dict[str, dict[str, np.ndarray]] = {}
    for n, model in models.items():
        reads = drawn_reads if reads_drawings(split_ref(n)[0]) else plain_reads
        probs[n] = {k: _mean_probs(model, v) for k, v in reads.items()}
        if n == "robust":
            probs["robust, shifted"] = {
                k: _mean_probs(model, v if k == "raw" else shifted(v)) for k, v in reads.items()
            }
    candidates = {n: [n] for n in probs}
    candidates["robust + resnet"] = ["robust", "resnet"]
    for n in extra:
        candidates[f"robust + {n}"] = ["robust", n]
        candidates[f"robust + {n} + resnet"] = ["robust", n, "resnet"]
    print(f"{N} validation images per set; accuracy (%), then ms per picture (median of 30)")
    print(f"{'':34s}" + "".join(f"{k[:9]:>10s}" for k in sets) + f"{'all':>8s}{'ms':>7s}")
    one = [v[:1] for v in drawn_reads["canvas"]]  # one canvas drawing's four readings
    for name, members in candidates.items():
        right = {
            k: np.mean([probs[m][k] for m in members], axis=0).argmax(1) == labels for k in sets
        }
        ms = _call_ms([(models[m.split(",")[0]], _one_reading(m, one)) for m in members])
        print(f"{name:34s}" + "".join(f"{right[k].mean() * 100:9.1f}%" for k in sets)
              + f"{np.mean([right[k].mean() for k in sets]) * 100:7.1f}%{ms:7.1f}")  # fmt: skip


def _one_reading(member: str, one: list[np.ndarray]) -> list[np.ndarray]:
    """What the member reads of one picture on the Predict page."""
    if "shifted" in member:
        return shifted(one)
    return one if reads_drawings(split_ref(member)[0]) else one[:1]


def _mean_probs(model, views: list[np.ndarray]) -> np.ndarray:
    return mean_of_readings(model, views)


def _call_ms(calls: list) -> float:
    """One picture's readings through each member, as one batch per member."""
    batches = [(m, np.concatenate(v)) for m, v in calls]
    for m, b in batches:
        m(b, training=False)
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        for m, b in batches:
            m(b, training=False)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


if __name__ == "__main__":
    main(sys.argv[1:])
