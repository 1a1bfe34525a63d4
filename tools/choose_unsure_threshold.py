"""Choose the confidence below which the Predict page calls the headline model unsure.

On pictures made from the VALIDATION split that the headline model (robust) held out (never
the test split): 1,000 stratified images as drawings, canvas strokes, silhouettes, flat and
cartoon clip art, photos, and as they are. Each is answered as the Predict page answers it (the
app's preprocessing, the mean of the model's readings). The threshold is the highest top
probability below which the model is wrong more often than right, in steps of 0.01; printed
with how many answers it flags and how accurate the rest are. Copy it to UNSURE_BELOW in
fmnist_core/analysis/predict.py.

    python tools/choose_unsure_threshold.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fmnist_core.analysis.predict import HEADLINE_MODEL, mean_of_readings  # noqa: E402
from fmnist_core.data.user_pictures import PICTURE_SETS  # noqa: E402
from fmnist_core.versions import find_artifact  # noqa: E402
from tools.validation_proxies import picture_sets, readings, validation_images  # noqa: E402

N = 1000


def main() -> None:
    images, labels = validation_images(N)
    model = find_artifact(HEADLINE_MODEL).load_model()
    tops, right, kinds = [], [], []
    for kind, views in readings(picture_sets(images, seed=2)).items():
        probs = mean_of_readings(model, views)
        tops.append(probs.max(1))
        right.append(probs.argmax(1) == labels)
        kinds += [kind] * N
        print(f"{kind:10s} accuracy {right[-1].mean():.1%}")
    top, ok, kinds = np.concatenate(tops), np.concatenate(right), np.array(kinds)
    threshold = 0.0
    for t in np.arange(0.20, 0.95, 0.01):
        below = top < t
        if below.sum() >= 20 and ok[below].mean() < 0.5:
            threshold = round(float(t), 2)
    below = top < threshold
    print(f"\nUNSURE_BELOW = {threshold}: flags {below.mean():.1%} of all answers, of which "
          f"{ok[below].mean():.0%} were right; the rest {ok[~below].mean():.1%} right")  # fmt: skip
    for kind in ["raw", *PICTURE_SETS]:
        mine = kinds == kind
        print(f"  {kind:10s} flagged {below[mine].mean():5.1%}; right when not flagged "
              f"{ok[mine & ~below].mean():.1%}, when flagged {ok[mine & below].mean():.0%}")  # fmt: skip


if __name__ == "__main__":
    main()
