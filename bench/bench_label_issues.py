"""The label-issue finder on all 60,000 training images with 1% of the labels (600, seeded)
flipped to random other classes: the share of flipped images among its top 600, and the
wall time of the whole run (k-fold training from scratch, no cache).

Goals: >= 80% of the top 600 are flipped images; the whole run <= 10 minutes here.
"""

import os
import tempfile
import time

import numpy as np

os.environ["FMNIST_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-label-issues-")  # no cache

from fmnist_core.data.fashion_mnist import load_dataset  # noqa: E402
from fmnist_core.quality.label_issues import FinderRequest, flip_labels, hits_at, training_suspects  # noqa: E402

ds = load_dataset()
labels, flipped = flip_labels(ds.y_train, 0.01, seed=0)
request = FinderRequest()
start = time.perf_counter()
suspects, probs, cached = training_suspects(ds, labels, request, use_cache=False)
seconds = time.perf_counter() - start
assert not cached
oos = (probs.argmax(axis=1) == ds.y_train).mean()
print(f"finder: {request.folds}-fold {request.model}, {request.epochs} epochs a fold; "
      f"out-of-sample accuracy against the true labels {oos:.2%}")  # fmt: skip
print(f"suspects found: {len(suspects):,}; flipped images among them: "
      f"{np.isin(flipped, suspects.indices).mean():.1%} of 600")  # fmt: skip
for n in (100, 300, 600, 1000):
    print(f"  flipped among the top {n:5d}: {hits_at(suspects, flipped, n):.1%}")
top600 = hits_at(suspects, flipped, 600)
print(f"top 600: {top600:.1%} (goal >= 80%): {'OK' if top600 >= 0.8 else 'UNDER'}")
print(f"whole run: {seconds:.0f} s (goal <= 600 s): {'OK' if seconds <= 600 else 'OVER'}")
