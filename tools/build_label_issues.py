"""Rebuild the shipped label-issue run: out-of-sample probabilities of every training image
(the finder's default settings, the original labels), written to assets/label_issues/ under
the key the finder looks for. About 5 minutes on 2 cores.
Usage: python tools/build_label_issues.py
"""

import shutil

import numpy as np

from fmnist_core.data.fashion_mnist import load_dataset
from fmnist_core.quality.label_issues import (
    SHIPPED_DIR,
    FinderRequest,
    cache_key,
    cache_path,
    training_suspects,
)

ds = load_dataset()
suspects, _, cached = training_suspects(
    ds, progress=lambda e: print(f"{e['fraction']:5.0%} {e['message']}", end="\r")
)
key = cache_key(ds.y_train.astype(np.int64), FinderRequest(), ds.checksum)
SHIPPED_DIR.mkdir(parents=True, exist_ok=True)
if cache_path(key).is_file():
    shutil.copyfile(cache_path(key), SHIPPED_DIR / f"{key}.npz")
print(f"\n{len(suspects):,} suspect training labels; {SHIPPED_DIR / f'{key}.npz'} "
      f"({'from the cache' if cached else 'computed'})")  # fmt: skip
