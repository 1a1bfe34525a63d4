"""Images for people who were not in the room: any set of test (or training) images as a ZIP
of PNG files with a CSV of index, true class, prediction and confidence; and a sample of a
large selection that shows every class in it, not the first rows of one."""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.data.gallery import png_bytes


def images_zip(
    indices,
    images: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
    split: str = "test",
    extra: dict[str, list] | None = None,
) -> bytes:
    """A ZIP with `<split>-<index>.png` per image and `images.csv` describing them."""
    buf = io.BytesIO()
    table = io.StringIO()
    w = csv.writer(table)
    extra = extra or {}
    w.writerow(["file", "index", "true_class", "predicted_class", "confidence", *extra])
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, i in enumerate(int(i) for i in indices):
            name = f"{split}-{i:05d}.png"
            z.writestr(name, png_bytes(images[i]))
            w.writerow([
                name, i, CLASS_NAMES[int(labels[i])],
                "" if predicted is None else CLASS_NAMES[int(predicted[i])],
                "" if confidence is None else f"{float(confidence[i]):.4f}",
                *(values[n] for values in extra.values()),
            ])  # fmt: skip
        z.writestr("images.csv", table.getvalue())
    return buf.getvalue()


def sample_across_classes(rows: np.ndarray, classes: np.ndarray, seed: int = 0) -> np.ndarray:
    """`rows` reordered so that any prefix shows every class present in proportion: a
    round-robin over the classes, each class shuffled (seeded)."""
    rows = np.asarray(rows)
    if len(rows) == 0:
        return rows
    rng = np.random.default_rng(seed)
    groups = [rng.permutation(rows[classes == c]) for c in np.unique(classes)]
    # interleave by each row's position within its class, scaled to the class's size
    keys = np.concatenate([np.arange(len(g)) / len(g) for g in groups])
    order = np.argsort(keys, kind="stable")
    return np.concatenate(groups)[order]
