"""Find, verify, load and cache the Fashion-MNIST dataset."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist_core.atomic import atomic_file
from fmnist_core.classes import NUM_CLASSES
from fmnist_core.errors import DatasetError
from fmnist_core.paths import cache_dir

log = logging.getLogger(__name__)

# The four original IDX files, by role. Keras' download uses the same names (gzipped).
IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# SHA-256 of the decompressed IDX contents. Recompressing (Debian does) changes the .gz bytes
# and so Zalando's published MD5s, but never these; plain and gzipped copies are checked the
# same way.
CONTENT_SHA256 = {
    "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
CSV_NAMES = {"train": "fashion-mnist_train.csv", "test": "fashion-mnist_test.csv"}
EXPECTED_COUNTS = {"train": 60_000, "test": 10_000}
IMAGE_SHAPE = (28, 28)
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
CACHE_FILE = "fashion-mnist.npz"
# Bumped whenever the cache layout changes, so an old cache file is rebuilt, not misread.
CACHE_FORMAT = 1

HOW_TO_GET = (
    "Get the data in any of these ways: install Debian's package "
    "(`sudo apt-get install dataset-fashion-mnist`); let the app download it through Keras "
    "(needs internet; unset FMNIST_OFFLINE); or put the four original IDX files "
    "(train-images-idx3-ubyte.gz, ...) or Kaggle's CSV pair (fashion-mnist_train.csv, "
    "fashion-mnist_test.csv) in a folder and set FMNIST_DATA_DIR to it."
)


@dataclass(frozen=True)
class DataSource:
    """Where the data was found: which files, of which kind, and how we got there."""

    kind: str  # "idx" or "csv"
    files: dict[str, Path]  # role -> file
    origin: str  # "argument", "FMNIST_DATA_DIR", "debian", "keras-cache", "keras-download"

    @property
    def location(self) -> Path:
        return next(iter(self.files.values())).parent

    def describe(self) -> str:
        labels = {
            "argument": "the given path",
            "FMNIST_DATA_DIR": "FMNIST_DATA_DIR",
            "debian": "Debian package dataset-fashion-mnist",
            "keras-cache": "Keras' cache",
            "keras-download": "downloaded through Keras",
        }
        kind = "IDX files" if self.kind == "idx" else "Kaggle CSV files"
        return f"{kind} in {self.location} ({labels.get(self.origin, self.origin)})"

    def fingerprint(self) -> str:
        """Changes whenever any source file is replaced or modified."""
        parts = []
        for role, path in sorted(self.files.items()):
            st = path.stat()
            parts.append([role, str(path.resolve()), st.st_size, st.st_mtime_ns])
        return json.dumps(parts)


@dataclass
class Dataset:
    """The four arrays plus where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: DataSource
    checksum: str
    from_cache: bool = False
    load_seconds: float = 0.0

    def as_tuple(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        return (self.x_train, self.y_train), (self.x_test, self.y_test)

    @property
    def is_original(self) -> bool:
        """True when the arrays are exactly Zalando's published dataset."""
        return self.checksum == ORIGINAL_DATASET_SHA256


# sha256 over x_train, y_train, x_test, y_test bytes of the original dataset (see arrays_checksum).
ORIGINAL_DATASET_SHA256 = "eee656c63c1c7a3b7c885d28c97fd74dc039264ce75eae7cb8d991df379ef736"


def arrays_checksum(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- finding


def keras_cache_dir() -> Path:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "fashion-mnist"


def _idx_files_in(directory: Path) -> tuple[dict[str, Path], list[str]]:
    found, missing = {}, []
    for role, name in IDX_NAMES.items():
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                found[role] = candidate
                break
        else:
            missing.append(name)
    return found, missing


def _source_at(path: Path, origin: str) -> tuple[DataSource | None, str]:
    """The data source at `path` (a folder or one of its files), or None and why not."""
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        return None, f"{path}: no such folder"
    idx, missing = _idx_files_in(path)
    if not missing:
        return DataSource("idx", idx, origin), ""
    csv = {split: path / name for split, name in CSV_NAMES.items()}
    if all(p.is_file() for p in csv.values()):
        return DataSource("csv", csv, origin), ""
    if idx:
        return None, f"{path}: IDX files incomplete, missing {', '.join(missing)}"
    have_csv = [p.name for p in csv.values() if p.is_file()]
    if have_csv:
        return None, f"{path}: only {have_csv[0]} of the CSV pair"
    return None, f"{path}: no Fashion-MNIST files"


def offline() -> bool:
    return os.environ.get("FMNIST_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def find_source(source: str | os.PathLike | None = None) -> tuple[DataSource | None, list[str]]:
    """Look for the data in the documented order; return the source and what was tried.

    An explicit `source` or FMNIST_DATA_DIR is the user's choice: if it holds no data we stop
    there with an error instead of silently using something else.
    """
    tried: list[str] = []
    explicit = [("argument", source), ("FMNIST_DATA_DIR", os.environ.get("FMNIST_DATA_DIR"))]
    for origin, where in explicit:
        if where:
            found, why = _source_at(Path(where).expanduser(), origin)
            if found:
                return found, tried
            tried.append(f"{origin}: {why}")
            raise DatasetError(
                f"No Fashion-MNIST data at {where} (from {origin}): {why}. {HOW_TO_GET}"
            )
    for origin, where in (("debian", DEBIAN_DIR), ("keras-cache", keras_cache_dir())):
        found, why = _source_at(where, origin)
        if found:
            return found, tried
        tried.append(why)
    return None, tried


def download_through_keras() -> DataSource:
    """Download the four .gz files into Keras' cache, with Keras' progress bar."""
    from keras.utils import get_file  # heavy import: only when we really download

    files = {}
    for role, name in IDX_NAMES.items():
        fname = f"{name}.gz"
        files[role] = Path(
            get_file(fname, origin=KERAS_ORIGIN + fname, cache_subdir="datasets/fashion-mnist")
        )
    return DataSource("idx", files, "keras-download")


# --------------------------------------------------------------------------- reading


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DatasetError(f"Cannot read {path}: {e}") from e
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise DatasetError(f"{path} is a truncated or corrupt gzip file ({e})") from e
    return raw


def read_idx(path: Path, role: str | None = None) -> np.ndarray:
    """Read one IDX file (gzipped or not) of unsigned bytes, checking header and length.

    With `role` (one of IDX_NAMES) the content is also checked against the original's SHA-256.
    """
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError(f"{path} is not an IDX file (bad magic number)")
    if data[2] != 0x08:
        raise DatasetError(f"{path}: IDX element type {data[2]:#04x}, expected unsigned byte")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path} is truncated inside its header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise DatasetError(f"{path} is {what}: {len(data)} bytes, expected {expected}")
    if role is not None and path.name.startswith(IDX_NAMES[role]):
        digest = hashlib.sha256(data).hexdigest()
        if digest != CONTENT_SHA256[role]:
            raise DatasetError(
                f"{path} does not match the published Fashion-MNIST checksum "
                f"(sha256 {digest[:12]}..., expected {CONTENT_SHA256[role][:12]}...): "
                "the file is corrupt or not the original. Delete it and get it again."
            )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a Kaggle-style CSV: a label column, then 784 pixel columns (header optional)."""
    import pandas as pd  # only the CSV path needs it

    try:
        with open(path, "rb") as f:
            first = f.readline()
        header = 0 if first[:1] and not first[:1].isdigit() else None
        # Integer parsing is strict: an empty cell (a truncated row) or "1.5" raises here.
        frame = pd.read_csv(path, header=header, dtype=np.int32, engine="c")
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DatasetError(f"{path} is not a readable Fashion-MNIST CSV ({e})") from e
    values = frame.to_numpy()
    pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if values.ndim != 2 or values.shape[1] != 1 + pixels:
        raise DatasetError(f"{path}: {values.shape[1]} columns, expected 1 label + {pixels} pixels")
    if values.min(initial=0) < 0 or values.max(initial=0) > 255:
        raise DatasetError(f"{path} has values outside the integers 0-255")
    labels = values[:, 0].astype(np.uint8)
    images = values[:, 1:].astype(np.uint8).reshape(-1, *IMAGE_SHAPE)
    return images, labels


def _check_split(images: np.ndarray, labels: np.ndarray, split: str, where: Path) -> None:
    n = EXPECTED_COUNTS[split]
    if images.shape != (n, *IMAGE_SHAPE):
        raise DatasetError(
            f"{where}: {split} images have shape {images.shape}, expected ({n}, 28, 28)"
        )
    if labels.shape != (n,):
        raise DatasetError(f"{where}: {split} labels have shape {labels.shape}, expected ({n},)")
    if labels.max(initial=0) >= NUM_CLASSES:
        raise DatasetError(f"{where}: {split} labels outside 0-{NUM_CLASSES - 1}")


def read_source(source: DataSource) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read and verify all four arrays from a source; raise DatasetError, never return partial data."""
    if source.kind == "idx":
        arrays = {role: read_idx(path, role) for role, path in source.files.items()}
        splits = {
            "train": (arrays["train_images"], arrays["train_labels"]),
            "test": (arrays["test_images"], arrays["test_labels"]),
        }
    else:
        splits = {split: read_csv(source.files[split]) for split in ("train", "test")}
    for split, (images, labels) in splits.items():
        _check_split(images, labels, split, source.location)
    (xtr, ytr), (xte, yte) = splits["train"], splits["test"]
    return xtr, ytr, xte, yte


# --------------------------------------------------------------------------- caching


def _cache_path() -> Path:
    return cache_dir() / CACHE_FILE


def _load_cache(source: DataSource) -> Dataset | None:
    path = _cache_path()
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if (
                meta.get("format") != CACHE_FORMAT
                or meta.get("fingerprint") != source.fingerprint()
            ):
                return None
            arrays = [z[k] for k in ("x_train", "y_train", "x_test", "y_test")]
        _check_split(arrays[0], arrays[1], "train", path)
        _check_split(arrays[2], arrays[3], "test", path)
    except (OSError, ValueError, KeyError, EOFError, DatasetError, zlib.error) as e:
        log.warning("Ignoring unreadable dataset cache %s (%s); rebuilding it", path, e)
        return None
    except Exception as e:  # zipfile.BadZipFile and friends: a damaged cache is never fatal
        log.warning("Ignoring damaged dataset cache %s (%s); rebuilding it", path, e)
        return None
    x_train, y_train, x_test, y_test = arrays
    return Dataset(x_train, y_train, x_test, y_test, source=source, checksum=meta["checksum"],
                   from_cache=True)  # fmt: skip


def _write_cache(ds: Dataset) -> None:
    path = _cache_path()
    meta = {"format": CACHE_FORMAT, "fingerprint": ds.source.fingerprint(), "checksum": ds.checksum}
    try:
        with atomic_file(path) as f:  # readers see the old file or the new, never half
            np.savez(
                f,
                x_train=ds.x_train,
                y_train=ds.y_train,
                x_test=ds.x_test,
                y_test=ds.y_test,
                meta=np.array(json.dumps(meta)),
            )
    except OSError as e:
        log.warning("Could not write the dataset cache %s (%s); loading still works", path, e)


# --------------------------------------------------------------------------- public API


def load_dataset(
    source: str | os.PathLike | None = None,
    *,
    use_cache: bool = True,
    allow_download: bool | None = None,
) -> Dataset:
    """Find, verify and load Fashion-MNIST, using the converted-array cache when it is fresh.

    Order: `source`, FMNIST_DATA_DIR, Debian's folder, Keras' cache, then a Keras download
    (unless FMNIST_OFFLINE is set or `allow_download` is False).
    """
    start = time.perf_counter()
    found, tried = find_source(source)
    if found is None:
        if allow_download is None:
            allow_download = not offline()
        if not allow_download:
            raise DatasetError(
                "Fashion-MNIST not found. Looked in: " + "; ".join(tried) + ". "
                "Downloading is off (FMNIST_OFFLINE). " + HOW_TO_GET
            )
        try:
            found = download_through_keras()
        except Exception as e:  # network errors come in many types; all mean the same here
            raise DatasetError(
                "Fashion-MNIST not found and the download through Keras failed "
                f"({type(e).__name__}: {e}). Looked in: " + "; ".join(tried) + ". " + HOW_TO_GET
            ) from e
    ds = _load_cache(found) if use_cache else None
    if ds is None:
        arrays = read_source(found)
        ds = Dataset(*arrays, source=found, checksum=arrays_checksum(*arrays))
        if use_cache:
            _write_cache(ds)
    ds.load_seconds = time.perf_counter() - start
    return ds


def load_fashion_mnist(
    source: str | os.PathLike | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """`((x_train, y_train), (x_test, y_test))`, uint8, like keras.datasets.fashion_mnist."""
    return load_dataset(source).as_tuple()


def stratified_split(
    labels: np.ndarray, val_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified split: (train indices, validation indices), each sorted."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_val = int(round(len(members) * val_fraction))
        val.append(members[:n_val])
        train.append(members[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def stratified_subset(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n indices with the classes in their original proportions (sorted)."""
    if n >= len(labels):
        return np.arange(len(labels))
    _, keep = stratified_split(labels, val_fraction=n / len(labels), seed=seed)
    return keep


def class_counts(labels: np.ndarray) -> np.ndarray:
    return np.bincount(labels, minlength=NUM_CLASSES)
