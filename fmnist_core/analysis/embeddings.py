"""Embeddings of the test images: features, PCA / t-SNE / UMAP / a custom axis, on-disk cache.

Features are raw pixels or a model's penultimate layer. t-SNE and UMAP get exact nearest
neighbours computed on 50 PCA components (quick even for the whole test set), which spares
the slow approximate-neighbour start-up of both libraries; t-SNE uses openTSNE's FFT
gradients. Results are cached under a key of everything that determines them.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core.atomic import atomic_file
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.contracts import EmbeddingMethod, ProgressEvent, ProgressFn, model_sha256, step
from fmnist_core.data.fashion_mnist import load_dataset, stratified_subset
from fmnist_core.errors import FmnistError
from fmnist_core.paths import ASSETS_DIR, cache_dir
from fmnist_core.versions import trained_artifact

log = logging.getLogger(__name__)

METHODS: tuple[EmbeddingMethod, ...] = ("pca", "tsne", "umap", "custom")
# how people write them: menus, captions and progress bars all use these
METHOD_LABELS = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP", "custom": "Custom axis"}
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "pca": {},
    "tsne": {"perplexity": 30.0, "learning_rate": "auto"},
    "umap": {"n_neighbors": 15, "min_dist": 0.1},
    "custom": {"class_a": 6, "class_b": 0},  # Shirt minus T-shirt/top, a famous confusion
}
TEST_SIZES = (1_000, 10_000)  # the range for subsets of the test set
ALL_IMAGES = 70_000  # PCA and UMAP may take training and test images together
CACHE_VERSION = 1


class EmbeddingError(FmnistError):
    """An embedding request that cannot be computed as asked."""


@dataclass(frozen=True)
class EmbedRequest:
    source: str = "pixels"  # "pixels" or a registry model name
    method: EmbeddingMethod = "pca"
    n: int = 5_000
    dims: int = 2
    params: tuple = ()  # sorted (name, value) pairs overriding DEFAULT_PARAMS[method]
    seed: int = 0

    def settings(self) -> dict[str, Any]:
        return {**DEFAULT_PARAMS[self.method], **dict(self.params)}

    def validate(self) -> None:
        if self.method not in METHODS:
            raise EmbeddingError(
                f"Unknown method {self.method!r}: choose one of {', '.join(METHODS)}"
            )
        if self.dims not in (2, 3):
            raise EmbeddingError("dims must be 2 or 3")
        low, high = TEST_SIZES
        if self.n == ALL_IMAGES and self.method not in ("pca", "umap"):
            raise EmbeddingError("All 70,000 images are only offered for PCA and UMAP")
        if self.n != ALL_IMAGES and not low <= self.n <= high:
            raise EmbeddingError(
                f"n must be between {low:,} and {high:,} (or {ALL_IMAGES:,} for PCA and UMAP)"
            )


def make_request(source="pixels", method="pca", n=5000, dims=2, seed=0, **params) -> EmbedRequest:
    req = EmbedRequest(source, method, int(n), int(dims), tuple(sorted(params.items())), seed)
    req.validate()
    return req


@dataclass
class Embedding:
    request: EmbedRequest
    coords: np.ndarray  # (n, dims) float32
    indices: np.ndarray  # into the test set, or into train+test for 70,000
    labels: np.ndarray
    predicted: np.ndarray | None = None
    confidence: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)  # variance ratios, seconds, ...
    from_cache: bool = False

    def to_csv(self) -> str:
        out = io.StringIO()
        axes = ["x", "y", "z"][: self.request.dims]
        header = ["index", *axes, "label", "class"]
        if self.predicted is not None:
            header += ["predicted", "confidence"]
        if self.request.n == ALL_IMAGES:
            header.insert(1, "split")
        w = csv.writer(out)
        w.writerow(header)
        for k, i in enumerate(self.indices):
            row: list[int | str] = [
                int(i)
                if self.request.n != ALL_IMAGES
                else int(i) % 60_000
                if i < 60_000
                else int(i) - 60_000
            ]
            if self.request.n == ALL_IMAGES:
                row.append("train" if i < 60_000 else "test")
            row += [f"{v:.5f}" for v in self.coords[k]]
            row += [int(self.labels[k]), CLASS_NAMES[int(self.labels[k])]]
            if self.predicted is not None:
                assert self.confidence is not None  # set together with `predicted`
                row += [int(self.predicted[k]), f"{self.confidence[k]:.4f}"]
            w.writerow(row)
        return out.getvalue()


# --------------------------------------------------------------------------- features


def subset_indices(y_test: np.ndarray, n: int, seed: int) -> np.ndarray:
    if n == ALL_IMAGES:
        return np.arange(ALL_IMAGES)
    return stratified_subset(y_test, n, seed)


def images_for(indices: np.ndarray, ds, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels behind the indices (test set, or train+test for 70,000)."""
    if n == ALL_IMAGES:
        x = np.concatenate([ds.x_train, ds.x_test])
        y = np.concatenate([ds.y_train, ds.y_test])
        return x[indices], y[indices]
    return ds.x_test[indices], ds.y_test[indices]


def feature_model(model):
    """(penultimate features, probabilities) from a registry model: the input of its last Dense
    (an ensemble's: its members', side by side)."""
    import keras  # loads TensorFlow: only when a model is built, run or saved

    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if members and "logits" not in {layer.name for layer in model.layers}:
        # an ensemble: its members' features side by side
        pixels = model.inputs[0]
        parts = [
            keras.Model(m.inputs[0], m.get_layer("logits").input, name=f"{m.name}_features")(pixels)
            for m in members
        ]
        features = keras.layers.Concatenate(name="member_features")(parts)
        return keras.Model(model.inputs, [features, model.outputs[0]])
    penultimate = model.get_layer("logits").input
    return keras.Model(model.inputs, [penultimate, model.outputs[0]])


def compute_features(source: str, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(features (n, d) float32, probabilities or None)."""
    if source == "pixels":
        return images.reshape(len(images), -1).astype(np.float32) / 255.0, None

    art = trained_artifact(source)
    extractor = feature_model(art.load_model())
    feats, probs = extractor.predict(
        images.reshape(-1, 28, 28, 1).astype(np.float32), batch_size=1000, verbose=0
    )
    return np.asarray(feats, np.float32).reshape(len(images), -1), np.asarray(probs, np.float32)


def source_fingerprint(source: str) -> str:
    """Changes when the source's model is retrained."""
    if source == "pixels":
        return "pixels"

    art = trained_artifact(source)
    return f"{source}:{model_sha256(art.manifest)}"


# --------------------------------------------------------------------------- methods


def _pca(features: np.ndarray, k: int, seed: int):
    from sklearn.decomposition import PCA  # heavy: only when this computation runs

    k = min(k, features.shape[1], len(features))
    pca = PCA(n_components=k, random_state=seed, svd_solver="randomized" if k < 60 else "auto")
    return pca, pca.fit_transform(features).astype(np.float32)


def _exact_neighbours(points: np.ndarray, k: int, include_self: bool):
    from sklearn.neighbors import NearestNeighbors  # heavy: only when this computation runs

    nn = NearestNeighbors(n_neighbors=k + (0 if include_self else 1)).fit(points)
    dist, idx = nn.kneighbors(points)
    if not include_self:
        dist, idx = dist[:, 1:], idx[:, 1:]
    return idx, dist.astype(np.float32)


def run_pca(features, req, progress):
    pca, coords = _pca(features, max(10, req.dims), req.seed)
    return coords[:, : req.dims], {
        "explained_variance_ratio": pca.explained_variance_ratio_.tolist()
    }


def run_custom(features, labels, req, progress):
    s = req.settings()
    a, b = int(s["class_a"]), int(s["class_b"])
    if a == b:
        raise EmbeddingError("The custom axis needs two different classes")
    axis = features[labels == a].mean(axis=0) - features[labels == b].mean(axis=0)
    axis = axis / np.linalg.norm(axis)
    centred = features - features.mean(axis=0)
    x = centred @ axis
    residual = centred - np.outer(x, axis)
    _, rest = _pca(residual, req.dims - 1, req.seed)
    coords = np.column_stack([x, rest[:, : req.dims - 1]]).astype(np.float32)
    return coords, {
        "axis": f"{CLASS_NAMES[a]} minus {CLASS_NAMES[b]}",
        "axis_vector": axis.tolist(),
    }


def run_tsne(features, req, progress):
    # heavy (numba): only when a t-SNE view is computed
    from openTSNE import TSNEEmbedding, affinity, initialization

    # heavy (numba): only when a t-SNE view is computed
    from openTSNE.nearest_neighbors import PrecomputedNeighbors

    s = req.settings()
    perplexity = float(s["perplexity"])
    _, reduced = _pca(features, 50, req.seed)
    progress(step(0.1, "nearest neighbours"))
    k = min(len(features) - 1, int(3 * perplexity))
    idx, dist = _exact_neighbours(reduced, k, include_self=False)
    aff = affinity.PerplexityBasedNN(
        knn_index=PrecomputedNeighbors(idx, dist), perplexity=perplexity, n_jobs=os.cpu_count() or 1
    )
    init = initialization.pca(reduced, n_components=req.dims, random_state=req.seed)
    # FFT gradients work in 1-2 dimensions; 3-D needs Barnes-Hut
    method = "fft" if req.dims <= 2 else "bh"
    emb = TSNEEmbedding(
        init, aff, n_jobs=os.cpu_count() or 1, random_state=req.seed,
        negative_gradient_method=method, learning_rate=s["learning_rate"],
        n_interpolation_points=2,
    )  # fmt: skip
    total = 500

    def report(iteration, error, embedding):
        progress(step(0.2 + 0.8 * min(iteration, total) / total, "optimising"))

    emb = emb.optimize(
        250, exaggeration=12, momentum=0.5, callbacks=report, callbacks_every_iters=25
    )
    emb = emb.optimize(
        250, momentum=0.8, callbacks=lambda i, e, m: report(250 + i, e, m), callbacks_every_iters=25
    )
    return np.asarray(emb, dtype=np.float32), {
        "perplexity": perplexity,
        "kl_divergence": float(emb.kl_divergence),
    }


def _import_umap():
    """umap-learn, without its optional ParametricUMAP: that import pulls in all of
    TensorFlow, seconds of import, for a feature we do not use."""
    if "umap" not in sys.modules and "tensorflow" not in sys.modules:
        # None makes that optional import fail (typeshed allows only modules in sys.modules)
        sys.modules.setdefault("umap.parametric_umap", None)  # type: ignore[arg-type]
        try:
            import umap  # heavy (numba compiles on import): only when a UMAP view is computed
        finally:
            if sys.modules.get("umap.parametric_umap", 0) is None:
                del sys.modules["umap.parametric_umap"]
        return umap
    import umap  # heavy (numba compiles on import): only when a UMAP view is computed

    return umap


def run_umap(features, req, progress):
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir() / "numba"))
    s = req.settings()
    k = int(s["n_neighbors"])
    _, reduced = _pca(features, 50, req.seed)
    progress(step(0.1, "nearest neighbours"))
    idx, dist = _exact_neighbours(reduced, k, include_self=True)
    progress(step(0.2, "compiling and optimising (the first time in a process takes longer)"))
    umap = _import_umap()
    with warnings.catch_warnings():  # "transform will be unavailable": we place points ourselves
        warnings.simplefilter("ignore", UserWarning)
        reducer = umap.UMAP(
            n_neighbors=k, min_dist=float(s["min_dist"]), n_components=req.dims,
            random_state=req.seed, precomputed_knn=(idx, dist, None), n_jobs=1,
            n_epochs=200,  # umap-learn's own choice above 10,000 points; as good here, and faster
        )  # fmt: skip
        coords = reducer.fit_transform(reduced)
    return np.asarray(coords, dtype=np.float32), {
        "n_neighbors": k,
        "min_dist": float(s["min_dist"]),
    }


def warm_up_umap() -> float:
    """Compile umap-learn's numba code on 300 random points (the same code paths as a real
    view), so that the first UMAP a person asks for does not wait for it. It is slowest with an
    empty numba cache and much quicker once the on-disk cache is filled. Returns the seconds it
    took."""
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    points = rng.normal(size=(300, 784)).astype(np.float32)
    run_umap(points, make_request("pixels", "umap", TEST_SIZES[0], 2), _ignore)
    return time.perf_counter() - start


# --------------------------------------------------------------------------- cache


def cache_key(req: EmbedRequest) -> str:
    payload = {"v": CACHE_VERSION, **asdict(req), "source": source_fingerprint(req.source)}
    payload["params"] = sorted(req.settings().items())
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[
        :24
    ]


def user_embeddings_dir() -> Path:
    return cache_dir() / "embeddings"


def shipped_embeddings_dir() -> Path:
    return ASSETS_DIR / "embeddings"


def _save(emb: Embedding, folder: Path, key: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {"coords": emb.coords, "indices": emb.indices, "labels": emb.labels}
    if emb.predicted is not None:
        arrays.update(predicted=emb.predicted, confidence=np.asarray(emb.confidence, np.float32))
    meta = {"request": asdict(emb.request), "info": emb.info}
    with atomic_file(folder / f"{key}.npz") as f:
        np.savez_compressed(f, meta=np.array(json.dumps(meta, default=str)), **arrays)


def load_cached_embedding(req: EmbedRequest, key: str | None = None) -> Embedding | None:
    key = key or cache_key(req)
    for folder in (user_embeddings_dir(), shipped_embeddings_dir()):
        path = folder / f"{key}.npz"
        if not path.is_file():
            continue
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                emb = Embedding(
                    req, z["coords"], z["indices"], z["labels"],
                    z["predicted"] if "predicted" in z.files else None,
                    z["confidence"] if "confidence" in z.files else None,
                    meta.get("info", {}), from_cache=True,
                )  # fmt: skip
            if emb.coords.shape != (len(emb.indices), req.dims):
                raise ValueError("coordinates do not match the request")
            return emb
        except Exception as e:  # a damaged cache file is recomputed, never fatal
            log.warning("Ignoring damaged embedding cache %s (%s); recomputing it", path, e)
            continue
    return None


def embed(
    req: EmbedRequest,
    *,
    progress: ProgressFn | None = None,
    dataset=None,
    use_cache: bool = True,
    save_to: Path | None = None,
) -> Embedding:
    """Compute (or load from the cache) the embedding the request describes."""
    req.validate()
    progress = progress or _ignore
    key = cache_key(req)
    if use_cache and save_to is None:  # save_to: build that folder afresh (shipped defaults)
        cached = load_cached_embedding(req, key)
        if cached is not None:
            progress(step(1.0, "from the cache"))
            return cached
    if dataset is None:
        dataset = load_dataset()
    start = time.perf_counter()
    indices = subset_indices(dataset.y_test, req.n, req.seed)
    images, labels = images_for(indices, dataset, req.n)
    progress(step(0.02, "features"))
    features, probs = compute_features(req.source, images)
    progress(step(0.08, req.method))
    runner = {"pca": run_pca, "tsne": run_tsne, "umap": run_umap}.get(req.method)
    if runner is not None:
        coords, info = runner(features, req, progress)
    else:
        coords, info = run_custom(features, labels, req, progress)
    info["seconds"] = round(time.perf_counter() - start, 3)
    emb = Embedding(
        req, coords.astype(np.float32), indices, labels.astype(np.uint8),
        None if probs is None else probs.argmax(1).astype(np.uint8),
        None if probs is None else probs.max(1).astype(np.float32), info,
    )  # fmt: skip
    if use_cache or save_to is not None:
        # a read-only cache folder costs speed next time, nothing else
        with contextlib.suppress(OSError):
            _save(emb, save_to or user_embeddings_dir(), key)
    progress(step(1.0, "done"))
    return emb


def _ignore(event: ProgressEvent) -> None:
    """No one is watching the progress."""


def nearest_neighbours(features: np.ndarray, query: np.ndarray, k: int = 8) -> np.ndarray:
    """Row indices of the k nearest rows of `features` to `query` (Euclidean)."""
    d = ((features - query[None, :]) ** 2).sum(axis=1)
    return np.argsort(d, kind="stable")[:k]


def place_point(
    emb: Embedding, features: np.ndarray, point_features: np.ndarray, k: int = 10
) -> np.ndarray:
    """Where a new image lands: exact for PCA and the custom axis; for UMAP the distance-
    weighted mean of its nearest neighbours' positions (t-SNE has no way to place new points)."""
    if emb.request.method == "tsne":
        raise EmbeddingError(
            "t-SNE cannot place new points: its map exists only for the points it was fitted on"
        )
    if emb.request.method in ("pca", "custom"):
        # refit the same linear map on the same features: deterministic and cheap
        if emb.request.method == "pca":
            pca, _ = _pca(features, max(10, emb.request.dims), emb.request.seed)
            return pca.transform(point_features[None, :])[0, : emb.request.dims].astype(np.float32)
        axis = np.asarray(emb.info["axis_vector"], dtype=np.float32)
        mean = features.mean(axis=0)
        centred = features - mean
        x = centred @ axis
        pca, _ = _pca(centred - np.outer(x, axis), emb.request.dims - 1, emb.request.seed)
        p = point_features - mean
        px = p @ axis
        rest = pca.transform((p - px * axis)[None, :])[0, : emb.request.dims - 1]
        return np.concatenate([[px], rest]).astype(np.float32)
    near = nearest_neighbours(features, point_features, k)
    d = np.sqrt(((features[near] - point_features) ** 2).sum(axis=1)) + 1e-6
    w = 1.0 / d
    return (emb.coords[near] * w[:, None]).sum(axis=0) / w.sum()
