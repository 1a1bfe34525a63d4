"""Suspect labels, found by confident learning (cleanlab): every training image gets
out-of-sample class probabilities from k-fold training of a fast model, then the images
whose given label the model finds improbable, beyond each class pair's usual confusion, are
ranked by how little the model believes the given label. Also the test set's suspects (from
the shipped models, which never trained on it) and train/test near-duplicates.

The out-of-sample probabilities are cached under the cache folder, keyed on the labels, the
model, the folds and epochs, and the dataset; the default run (the original labels) ships
in assets/label_issues/ so the Data quality page opens at once.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from fmnist_core.analysis.evaluate import predict_probabilities
from fmnist_core.atomic import write_bytes_atomic
from fmnist_core.classes import NUM_CLASSES
from fmnist_core.contracts import ProgressEvent, ProgressFn, step
from fmnist_core.errors import FmnistError
from fmnist_core.models import get_spec
from fmnist_core.paths import ASSETS_DIR, cache_dir
from fmnist_core.training.engine import fit, kfold_indices

# With labels flipped on purpose (bench/bench_label_issues.py), 8 epochs a fold rank more of
# them near the top than 4 do.
DEFAULT_MODEL = "cnn1"
DEFAULT_FOLDS = 4
DEFAULT_EPOCHS = 8
SHIPPED_DIR = ASSETS_DIR / "label_issues"


class LabelIssueError(FmnistError):
    """Labels that cannot be checked (wrong length, out of range, unreadable file)."""


@dataclass(frozen=True)
class FinderRequest:
    model: str = DEFAULT_MODEL
    folds: int = DEFAULT_FOLDS
    epochs: int = DEFAULT_EPOCHS
    seed: int = 0


@dataclass(frozen=True)
class Suspects:
    """Ranked suspects: most likely mislabelled first."""

    indices: np.ndarray  # into the split's images
    given: np.ndarray  # the label in the data
    suggested: np.ndarray  # the class the model believes
    scores: np.ndarray  # label quality: the model's probability of the given label (low = suspect)

    def __len__(self) -> int:
        return len(self.indices)

    def top(self, n: int | None) -> Suspects:
        s = slice(None, n)
        return Suspects(self.indices[s], self.given[s], self.suggested[s], self.scores[s])

    def as_json(self) -> dict:
        return {
            "indices": [int(i) for i in self.indices],
            "given": [int(c) for c in self.given],
            "suggested": [int(c) for c in self.suggested],
            "scores": [round(float(s), 6) for s in self.scores],
        }


def check_labels(labels, n: int = 60_000) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise LabelIssueError(
            f"Labels must be {n:,} long (one per training image); got shape {labels.shape}."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise LabelIssueError(f"Labels must be integers 0-9; got {labels.dtype}.")
    if labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise LabelIssueError(f"Labels must be 0-9; got {labels.min()} to {labels.max()}.")
    return labels.astype(np.int64)


def load_labels(path: str | Path) -> np.ndarray:
    """A .npy file of 60,000 integer labels (replacing the training labels)."""
    try:
        labels = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise LabelIssueError(f"Cannot read labels from {path}: {e}") from e
    return check_labels(labels)


def cache_key(labels: np.ndarray, request: FinderRequest, dataset_checksum: str) -> str:
    """The name of a run's out-of-sample probabilities: labels, settings and dataset."""
    h = hashlib.blake2b(digest_size=10)
    h.update(np.ascontiguousarray(labels, np.int64).tobytes())
    h.update(repr((request.model, request.folds, request.epochs, request.seed)).encode())
    h.update(dataset_checksum.encode())
    return h.hexdigest()


def cache_path(key: str) -> Path:
    """Where a run's out-of-sample probabilities are cached (the shipped copy: SHIPPED_DIR)."""
    return cache_dir() / "label_issues" / f"{key}.npz"


def _read(path: Path, n: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            probs = z["probs"].astype(np.float32)
    except (OSError, ValueError, KeyError) as e:
        logging.getLogger(__name__).warning("ignoring a damaged label-issue cache %s: %s", path, e)
        return None
    return probs if probs.shape == (n, NUM_CLASSES) else None


def is_cached(labels: np.ndarray, request: FinderRequest, dataset_checksum: str) -> bool:
    """Whether the out-of-sample probabilities for these labels are on disk (cache or shipped)."""
    key = cache_key(labels, request, dataset_checksum)
    return cache_path(key).is_file() or (SHIPPED_DIR / f"{key}.npz").is_file()


def out_of_sample_probabilities(
    x: np.ndarray,
    labels: np.ndarray,
    request: FinderRequest = FinderRequest(),
    dataset_checksum: str = "",
    progress: ProgressFn | None = None,
    use_cache: bool = True,
) -> tuple[np.ndarray, bool]:
    """(N, 10) probabilities, each image's from a model that never saw it (k-fold), and
    whether they came from a cache."""
    key = cache_key(labels, request, dataset_checksum)
    if use_cache:
        for path in (cache_path(key), SHIPPED_DIR / f"{key}.npz"):
            found = _read(path, len(labels))
            if found is not None:
                return found, True

    spec = get_spec(request.model)
    recipe = replace(spec.recipe, epochs=request.epochs, augment_epochs=0, early_stopping=0)
    probs = np.zeros((len(labels), NUM_CLASSES), np.float32)
    for i, (tr, va) in enumerate(kfold_indices(labels, request.folds, request.seed)):

        def report(event: ProgressEvent, i: int = i) -> None:
            if progress is not None and event["event"] == "batch":
                done = (event["epoch"] - 1 + event["batch"] / event["batches"]) / event["epochs"]
                progress(step((i + done) / request.folds,
                              f"fold {i + 1} of {request.folds}, epoch {event['epoch']} of {event['epochs']}"))  # fmt: skip

        result = fit(spec, x[tr], labels[tr], None, None, recipe, seed=request.seed + i,
                     progress=report)  # fmt: skip
        probs[va] = predict_probabilities(result.model, x[va])
    if use_cache:
        buf = io.BytesIO()
        np.savez_compressed(buf, probs=probs.astype(np.float16))
        write_bytes_atomic(cache_path(key), buf.getvalue())
    if progress is not None:
        progress(step(1.0, "done"))
    return probs, False


def rank_suspects(labels: np.ndarray, probs: np.ndarray) -> Suspects:
    """Confident learning (cleanlab's find_label_issues): the confident joint estimates how
    many labels of each class are wrong, and that many of the class's least believed labels
    are kept ("prune_by_class"); ranked by self-confidence, the lowest probability of the
    given label first. (Pruning by noise rate, cleanlab's default, ranks fewer flipped labels
    near the top in the flipped-label benchmark.)"""
    from cleanlab.filter import find_label_issues  # heavy: only when suspects are ranked

    labels = np.asarray(labels, np.int64)
    probs = np.asarray(probs, np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)
    ranked = np.asarray(
        find_label_issues(
            labels,
            probs,
            filter_by="prune_by_class",
            return_indices_ranked_by="self_confidence",
            n_jobs=1,
        ),
        dtype=np.int64,
    )
    return Suspects(
        ranked, labels[ranked], probs[ranked].argmax(axis=1), probs[ranked, labels[ranked]]
    )


def training_suspects(
    ds,
    labels: np.ndarray | None = None,
    request: FinderRequest = FinderRequest(),
    progress: ProgressFn | None = None,
    use_cache: bool = True,
) -> tuple[Suspects, np.ndarray, bool]:
    """The training set's suspects under `labels` (default the dataset's own), the
    out-of-sample probabilities behind them, and whether those came from a cache."""
    labels = (
        ds.y_train.astype(np.int64) if labels is None else check_labels(labels, len(ds.y_train))
    )
    probs, cached = out_of_sample_probabilities(
        ds.x_train, labels, request, ds.checksum, progress, use_cache
    )
    return rank_suspects(labels, probs), probs, cached


def test_suspects(y_test: np.ndarray, model_probs: list[np.ndarray]) -> Suspects:
    """The test set's suspects from the shipped models' mean probabilities (none of them
    trained on the test set)."""
    return rank_suspects(y_test, np.mean([np.asarray(p, np.float32) for p in model_probs], axis=0))


# --------------------------------------------------------------------------- duplicates


@dataclass(frozen=True)
class Duplicates:
    """Test images with a training image of (nearly) the same pixels."""

    test: np.ndarray
    train: np.ndarray  # the nearest training image of each
    distance: np.ndarray  # mean absolute pixel difference (0 = identical), 0-255
    exact: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.test)

    @property
    def exact_count(self) -> int:
        return int(self.exact.sum())


NEAR = 2.0  # mean absolute difference per pixel (of 255) below which two images are "near-exact"


def train_test_duplicates(
    x_train: np.ndarray, x_test: np.ndarray, near: float = NEAR, components: int = 32
) -> Duplicates:
    """Exact matches by hashing; near-exact ones by nearest neighbours in a PCA space, then
    checked on the full pixels."""
    from sklearn.decomposition import PCA  # heavy: only when this computation runs
    from sklearn.neighbors import NearestNeighbors  # heavy: only when this computation runs

    train_flat = x_train.reshape(len(x_train), -1)
    test_flat = x_test.reshape(len(x_test), -1)
    pca = PCA(components, random_state=0).fit(train_flat[::6].astype(np.float32))
    a = pca.transform(train_flat.astype(np.float32))
    b = pca.transform(test_flat.astype(np.float32))
    nn = NearestNeighbors(n_neighbors=3).fit(a)
    _, candidates = nn.kneighbors(b)
    diffs = np.abs(
        test_flat[:, None, :].astype(np.int16) - train_flat[candidates].astype(np.int16)
    ).mean(axis=2)
    best = diffs.argmin(axis=1)
    distance = diffs[np.arange(len(b)), best]
    nearest = candidates[np.arange(len(b)), best]
    keep = np.flatnonzero(distance <= near)
    order = keep[np.argsort(distance[keep], kind="stable")]
    return Duplicates(order, nearest[order], distance[order], distance[order] == 0)


def hits_at(suspects: Suspects, truth: np.ndarray, n: int) -> float:
    """The share of the top n suspects that are in `truth` (e.g. labels flipped on purpose)."""
    top = suspects.indices[:n]
    return float(np.isin(top, truth).mean()) if len(top) else 0.0


def flip_labels(labels: np.ndarray, fraction: float = 0.01, seed: int = 0):
    """Labels with `fraction` of them flipped to a random other class (to test the finder):
    (new labels, flipped indices)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels, np.int64).copy()
    flipped = np.sort(rng.choice(len(labels), int(round(fraction * len(labels))), replace=False))
    labels[flipped] = (labels[flipped] + rng.integers(1, NUM_CLASSES, len(flipped))) % NUM_CLASSES
    return labels, flipped
