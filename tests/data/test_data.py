"""The loader on the real Fashion-MNIST files: contract, formats, verification, cache, split."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fmnist_core import CLASS_NAMES
from fmnist_core.data import fashion_mnist as fd
from fmnist_core.data.fashion_mnist import (
    DatasetError,
    load_dataset,
    load_fashion_mnist,
    stratified_split,
)

ROOT = Path(__file__).resolve().parents[2]


def write_csv(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Write images and labels as a Kaggle-style CSV."""
    pixels = images.reshape(len(images), -1)
    table = np.column_stack([labels, pixels]).astype(np.uint8)
    header = "label," + ",".join(f"pixel{i}" for i in range(1, pixels.shape[1] + 1))
    # numbers as text through a lookup table: np.savetxt is far slower on 47M cells
    words = np.array([str(i).encode() for i in range(256)], dtype=object)
    buf = io.BytesIO()
    buf.write(header.encode() + b"\n")
    for row in table:
        buf.write(b",".join(words[row]) + b"\n")
    Path(path).write_bytes(buf.getvalue())


@pytest.fixture()
def nowhere(tmp_path, monkeypatch):
    """No dataset in the default places: Debian's folder and Keras' cache point at empty dirs."""
    monkeypatch.setattr(fd, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras"))
    monkeypatch.delenv("FMNIST_DATA_DIR", raising=False)
    monkeypatch.setenv("FMNIST_OFFLINE", "1")
    return tmp_path


def _plain_idx_dir(real_source_dir: Path, target: Path) -> Path:
    """The real files, decompressed, in `target`."""
    target.mkdir()
    for name in fd.IDX_NAMES.values():
        gz, plain = real_source_dir / f"{name}.gz", real_source_dir / name
        data = gzip.decompress(gz.read_bytes()) if gz.exists() else plain.read_bytes()
        (target / name).write_bytes(data)
    return target


# --------------------------------------------------------------------------- the real data


def test_real_data_matches_the_keras_contract(real_dataset):
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
    assert np.bincount(y_train, minlength=10).tolist() == [6000] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [1000] * 10
    # The first labels of the published training set (as keras.datasets shows them).
    assert y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert real_dataset.is_original
    assert x_train.max() == 255 and x_train.min() == 0


def test_real_files_match_published_content_checksums(real_source_dir):
    import hashlib

    for role, name in fd.IDX_NAMES.items():
        path = real_source_dir / f"{name}.gz"
        if not path.exists():
            path = real_source_dir / name
        raw = path.read_bytes()
        content = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        assert hashlib.sha256(content).hexdigest() == fd.CONTENT_SHA256[role]


def test_class_names():
    assert len(CLASS_NAMES) == 10
    assert CLASS_NAMES[0] == "T-shirt/top" and CLASS_NAMES[9] == "Ankle boot"


# --------------------------------------------------------------------------- formats


@pytest.mark.slow
def test_plain_and_gzipped_idx_give_identical_arrays(real_dataset, real_source_dir, tmp_path):
    plain = _plain_idx_dir(real_source_dir, tmp_path / "plain")
    gz = tmp_path / "gz"
    gz.mkdir()
    for name in fd.IDX_NAMES.values():  # our own gzip (other bytes than the original .gz)
        (gz / f"{name}.gz").write_bytes(gzip.compress((plain / name).read_bytes(), compresslevel=1))
    a = load_dataset(plain, use_cache=False)
    b = load_dataset(gz, use_cache=False)
    for x, y, ref in zip(a.as_tuple(), b.as_tuple(), real_dataset.as_tuple()):
        for u, v, r in zip(x, y, ref):
            np.testing.assert_array_equal(u, r)
            np.testing.assert_array_equal(v, r)
    assert a.checksum == b.checksum == real_dataset.checksum


@pytest.mark.slow
def test_csv_pair_gives_the_same_arrays_as_idx(real_dataset, tmp_path):
    folder = tmp_path / "kaggle"
    folder.mkdir()
    write_csv(folder / "fashion-mnist_train.csv", real_dataset.x_train, real_dataset.y_train)
    write_csv(folder / "fashion-mnist_test.csv", real_dataset.x_test, real_dataset.y_test)
    # a file of the pair works as the source too
    ds = load_dataset(folder / "fashion-mnist_test.csv", use_cache=False)
    assert ds.source.kind == "csv"
    assert ds.checksum == real_dataset.checksum and ds.is_original


def test_explicit_source_wins_over_env(real_source_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_DATA_DIR", str(tmp_path / "missing"))
    ds = load_dataset(real_source_dir, use_cache=False)
    assert ds.source.origin == "argument"


def test_env_var_is_used(real_source_dir, monkeypatch):
    monkeypatch.setenv("FMNIST_DATA_DIR", str(real_source_dir))
    ds = load_dataset(use_cache=False)
    assert ds.source.origin == "FMNIST_DATA_DIR"


def test_keras_cache_is_found(real_source_dir, nowhere, monkeypatch):
    keras_dir = nowhere / "no-keras" / "datasets" / "fashion-mnist"
    keras_dir.parent.mkdir(parents=True)
    shutil.copytree(real_source_dir, keras_dir)
    ds = load_dataset(use_cache=False)
    assert ds.source.origin == "keras-cache" and ds.is_original


# --------------------------------------------------------------------------- bad files


@pytest.fixture()
def plain_copy(real_source_dir, tmp_path) -> Path:
    return _plain_idx_dir(real_source_dir, tmp_path / "copy")


def test_truncated_plain_idx_is_a_clear_error(plain_copy):
    f = plain_copy / "t10k-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[: -784 * 10])
    with pytest.raises(DatasetError, match="truncated") as e:
        load_dataset(plain_copy, use_cache=False)
    assert "t10k-images-idx3-ubyte" in str(e.value)


def test_truncated_gzip_is_a_clear_error(plain_copy):
    f = plain_copy / "train-labels-idx1-ubyte"
    gz = plain_copy / "train-labels-idx1-ubyte.gz"
    gz.write_bytes(gzip.compress(f.read_bytes())[:5000])
    f.unlink()
    with pytest.raises(DatasetError, match="truncated or corrupt gzip"):
        load_dataset(plain_copy, use_cache=False)


def test_corrupted_pixel_fails_the_checksum(plain_copy):
    f = plain_copy / "t10k-images-idx3-ubyte"
    raw = bytearray(f.read_bytes())
    raw[5000] ^= 0xFF  # one pixel: header, length and range all still valid
    f.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match="checksum"):
        load_dataset(plain_copy, use_cache=False)


def test_bad_magic_number(plain_copy):
    f = plain_copy / "t10k-labels-idx1-ubyte"
    f.write_bytes(b"\x12\x34" + f.read_bytes()[2:])
    with pytest.raises(DatasetError, match="magic"):
        load_dataset(plain_copy, use_cache=False)


@pytest.mark.slow
def test_label_out_of_range_in_csv(real_dataset, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    y = real_dataset.y_test.copy()
    y[3] = 12
    write_csv(folder / "fashion-mnist_test.csv", real_dataset.x_test, y)
    write_csv(folder / "fashion-mnist_train.csv", real_dataset.x_train, real_dataset.y_train)
    with pytest.raises(DatasetError, match="labels outside"):
        load_dataset(folder, use_cache=False)


def test_truncated_csv_is_a_clear_error(real_dataset, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    write_csv(folder / "fashion-mnist_test.csv", real_dataset.x_test, real_dataset.y_test)
    write_csv(
        folder / "fashion-mnist_train.csv", real_dataset.x_train[:100], real_dataset.y_train[:100]
    )
    train = folder / "fashion-mnist_train.csv"
    train.write_bytes(train.read_bytes()[:-700])  # cut inside the last row
    with pytest.raises(DatasetError, match="fashion-mnist_train.csv"):
        load_dataset(folder, use_cache=False)


def test_csv_with_too_few_rows_is_rejected(real_dataset, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    write_csv(folder / "fashion-mnist_test.csv", real_dataset.x_test, real_dataset.y_test)
    write_csv(
        folder / "fashion-mnist_train.csv", real_dataset.x_train[:100], real_dataset.y_train[:100]
    )
    with pytest.raises(DatasetError, match=r"\(60000, 28, 28\)"):
        load_dataset(folder, use_cache=False)


def test_incomplete_idx_set_names_the_missing_file(plain_copy, monkeypatch):
    (plain_copy / "t10k-labels-idx1-ubyte").unlink()
    monkeypatch.setenv("FMNIST_DATA_DIR", str(plain_copy))
    with pytest.raises(DatasetError, match="missing t10k-labels-idx1-ubyte"):
        load_dataset()


def test_nothing_found_offline_says_what_was_tried_and_how_to_get_it(nowhere):
    with pytest.raises(DatasetError) as e:
        load_dataset()
    message = str(e.value)
    assert "no-debian" in message and "no-keras" in message
    assert "apt-get install dataset-fashion-mnist" in message and "FMNIST_DATA_DIR" in message


# --------------------------------------------------------------------------- cache


def test_cache_is_written_once_and_reused(real_source_dir, isolated_cache):
    cold = load_dataset(real_source_dir)
    assert not cold.from_cache
    assert (isolated_cache / fd.CACHE_FILE).is_file()
    assert not list(isolated_cache.glob("*.tmp"))
    warm = load_dataset(real_source_dir)
    assert warm.from_cache and warm.checksum == cold.checksum
    np.testing.assert_array_equal(warm.x_test, cold.x_test)


def test_corrupt_cache_is_rebuilt(real_source_dir, isolated_cache):
    load_dataset(real_source_dir)
    cache = isolated_cache / fd.CACHE_FILE
    raw = bytearray(cache.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = b"\0" * 64
    cache.write_bytes(bytes(raw))
    ds = load_dataset(real_source_dir)
    assert not ds.from_cache and ds.is_original
    assert load_dataset(real_source_dir).from_cache  # and the rebuilt cache is good


def test_cache_follows_a_changed_source(real_source_dir, plain_copy, isolated_cache):
    a = load_dataset(real_source_dir)
    b = load_dataset(plain_copy)
    assert not b.from_cache and b.source.location == plain_copy
    assert a.checksum == b.checksum


# --------------------------------------------------------------------------- split


def test_split_is_deterministic_stratified_and_disjoint(real_dataset):
    y = real_dataset.y_train
    tr, va = stratified_split(y, 0.2, seed=0)
    tr2, va2 = stratified_split(y, 0.2, seed=0)
    np.testing.assert_array_equal(tr, tr2)
    np.testing.assert_array_equal(va, va2)
    assert len(tr) == 48000 and len(va) == 12000
    assert np.intersect1d(tr, va).size == 0 and np.union1d(tr, va).size == 60000
    assert np.bincount(y[va], minlength=10).tolist() == [1200] * 10
    assert np.bincount(y[tr], minlength=10).tolist() == [4800] * 10
    _, other = stratified_split(y, 0.2, seed=1)
    assert not np.array_equal(va, other)


# --------------------------------------------------------------------------- CLI


def test_cli_data_json_reports_the_real_files(real_dataset):
    out = subprocess.run(
        [sys.executable, "-m", "fmnist_core", "data", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    report = json.loads(out.stdout)
    assert report["shapes"]["x_train"] == [60000, 28, 28]
    assert report["shapes"]["x_test"] == [10000, 28, 28]
    assert report["class_counts"]["Sneaker"] == {"train": 6000, "test": 1000}
    assert report["is_original"] is True


def test_cli_data_without_data_exits_2_with_the_message(nowhere):
    import os

    env = {**os.environ, "FMNIST_DATA_DIR": str(nowhere / "empty")}
    out = subprocess.run(
        [sys.executable, "-m", "fmnist_core", "data"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2
    assert "No Fashion-MNIST data" in out.stderr and "Traceback" not in out.stderr
