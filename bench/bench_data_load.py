"""Dataset load time: cold (read, verify and convert the IDX files) and warm (the array cache)."""

import os
import statistics
import tempfile
import time

os.environ["FMNIST_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-data-")

from fmnist_core.data.fashion_mnist import load_dataset  # noqa: E402


def timed(fn, repeat):
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        out.append(time.perf_counter() - start)
    return out, result


cold, ds = timed(lambda: load_dataset(use_cache=False), 3)
load_dataset()  # writes the cache
warm, ds = timed(load_dataset, 10)
assert ds.from_cache
print(f"source: {ds.source.describe()}")
print(f"cold load (read + verify + convert), median of 3: {statistics.median(cold):.3f} s")
print(
    f"warm load (cache), median of 10:                  {statistics.median(warm):.3f} s "
    f"(min {min(warm):.3f}, max {max(warm):.3f}); goal < 1 s"
)
