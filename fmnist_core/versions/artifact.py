"""Trained-model artifacts: atomic save, verified load, manifests.

An artifact is a folder holding `model.keras`, `test_probs.npy` (float16 test-set
probabilities) and `manifest.json`, written last, with each file's size and SHA-256. Shipped
ones live in `assets/models/<name>/`; each training run is a new version in
`<cache>/versions/<name>/<id>/`. This module knows an artifact folder's format only;
`history.py` decides which version a name means.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core.contracts import FileEntry, Manifest, Origin
from fmnist_core.errors import FmnistError
from fmnist_core.paths import ASSETS_DIR, cache_dir

MODEL_FILE = "model.keras"
PROBS_FILE = "test_probs.npy"
MANIFEST_FILE = "manifest.json"
MANIFEST_VERSION = 1


class ArtifactError(FmnistError):
    """A model artifact is missing, incomplete or does not match its manifest."""


def user_models_dir() -> Path:
    return cache_dir() / "models"


def shipped_models_dir() -> Path:
    return ASSETS_DIR / "models"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class Artifact:
    name: str
    path: Path
    manifest: Manifest
    origin: Origin
    version: str = ""  # "shipped", a run's id (history.py), or "" for a bare folder

    @property
    def ref(self) -> str:
        """The name that finds exactly this version again: 'cnn1@shipped', 'cnn1@<id>'."""
        return f"{self.name}@{self.version}" if self.version else self.name

    def verify(self) -> None:
        """Every file matches its manifest (size and SHA-256); ArtifactError if not."""
        for filename in self.manifest["files"]:
            self._verified(filename)

    def _verified(self, filename: str) -> Path:
        path = self.path / filename
        expected = self.manifest["files"][filename]
        if not path.is_file() or path.stat().st_size != expected["size"]:
            raise ArtifactError(f"{path} is missing or has the wrong size; retrain {self.name}")
        if file_sha256(path) != expected["sha256"]:
            raise ArtifactError(
                f"{path} does not match its manifest's checksum; retrain {self.name}"
            )
        return path

    def load_model(self):
        """The Keras model, after its checksum matched, loaded with safe_mode=True."""
        path = self._verified(MODEL_FILE)
        import keras  # heavy (TensorFlow): only when a model is loaded

        try:
            return keras.models.load_model(path, safe_mode=True, compile=False)
        except Exception as e:
            raise ArtifactError(f"Cannot load {path}: {e}. Retrain {self.name}.") from e

    def test_probabilities(self) -> np.ndarray:
        path = self._verified(PROBS_FILE)
        try:
            probs = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ArtifactError(f"Cannot read {path}: {e}") from e
        return probs.astype(np.float32)

    @property
    def test_accuracy(self) -> float | None:
        return self.manifest.get("test_accuracy")


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{folder} has no {MANIFEST_FILE}: an incomplete artifact") from None
    except (OSError, ValueError) as e:
        raise ArtifactError(f"{path} is unreadable ({e})") from e
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not {MODEL_FILE, PROBS_FILE} <= set(files):
        raise ArtifactError(f"{path} does not list the artifact's files")
    for filename, meta in files.items():
        f = folder / filename
        if not f.is_file() or f.stat().st_size != meta.get("size"):
            raise ArtifactError(f"{f} is missing or truncated")
    return manifest


def _recover_interrupted_swap(root: Path, name: str) -> None:
    """If a save died between its two renames, the previous artifact sits in `.old-<name>-*`."""
    target = root / name
    if target.exists():
        return
    olds = sorted(root.glob(f".old-{name}-*"), key=lambda p: p.stat().st_mtime)
    if olds:
        os.replace(olds[-1], target)


SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def load_artifact(name: str, root: Path, origin: Origin) -> Artifact | None:
    """The artifact `name` under `root`, None if absent; ArtifactError if damaged.

    Only plain names: a name can never reach outside the project's two model folders.
    """
    if not SAFE_NAME.fullmatch(name) or ".." in name:
        raise ArtifactError(f"{name!r} is not a model name")
    if root.is_dir():
        _recover_interrupted_swap(root, name)
    folder = root / name
    if not folder.is_dir():
        return None
    version = "shipped" if origin == "shipped" else ""
    return Artifact(name, folder, read_manifest(folder), origin, version)


def save_artifact(
    name: str,
    model: Any,
    manifest: Manifest,
    test_probs: np.ndarray,
    root: Path,
    folder_name: str | None = None,
    version: str = "",
) -> Artifact:
    """Write the artifact `root/folder_name` (default: the model's name) into a temporary
    folder, then swap it in with renames.

    A crash at any point leaves either the previous artifact or the new one, never a folder
    that looks complete but is not (the manifest is written last and lists sizes and hashes).
    """
    root = Path(root)
    folder_name = folder_name or name
    root.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    tmp = root / f".tmp-{folder_name}-{token}"
    tmp.mkdir()
    try:
        float32_copy(model).save(tmp / MODEL_FILE)
        with open(tmp / PROBS_FILE, "wb") as f:
            np.save(f, np.asarray(test_probs, dtype=np.float16))
        files: dict[str, FileEntry] = {
            fn: {"size": (tmp / fn).stat().st_size, "sha256": file_sha256(tmp / fn)}
            for fn in (MODEL_FILE, PROBS_FILE)
        }
        manifest = {**manifest, "manifest_version": MANIFEST_VERSION, "files": files}
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, default=_jsonable))
        _fsync_dir(tmp)
        target = root / folder_name
        old = root / f".old-{folder_name}-{token}"
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for stale in root.glob(".tmp-*"):  # left by runs that were killed
        # another run's save in progress is minutes old at most
        if stale.name.startswith(f".tmp-{folder_name}-") or _older_than(stale, 600):
            shutil.rmtree(stale, ignore_errors=True)
    origin: Origin = "shipped" if root == shipped_models_dir() else "user"
    version = version or ("shipped" if origin == "shipped" else "")
    return Artifact(name, root / folder_name, manifest, origin, version)


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except OSError:
        return False


def float32_copy(model: Any) -> Any:
    """The same network and weights without optimizer state (the file is half the size), in
    float32: a run trained in mixed precision ships a model that predicts like the others."""
    import keras  # heavy (TensorFlow): only when a model is saved

    copy = keras.Model.from_config(_float32_config(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy


def _float32_config(config: Any) -> Any:
    """A model config with every mixed-precision dtype policy replaced by float32."""
    if isinstance(config, list):
        return [_float32_config(c) for c in config]
    if not isinstance(config, dict):
        return config
    out = {k: _float32_config(v) for k, v in config.items()}
    dtype = out.get("dtype")
    if isinstance(dtype, dict) and str(dtype.get("config", {}).get("name", "")).startswith(
        "mixed_"
    ):
        out["dtype"] = {**dtype, "config": {**dtype["config"], "name": "float32"}}
    elif isinstance(dtype, str) and dtype.startswith("mixed_"):
        out["dtype"] = "float32"
    return out


def _fsync_dir(folder: Path) -> None:
    for f in folder.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
