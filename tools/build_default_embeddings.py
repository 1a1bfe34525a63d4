"""Compute the embedding views that ship in assets/embeddings/, so the Embeddings page opens
instantly on a fresh machine: raw pixels and the most accurate shipped model, 5,000 test
images, PCA, t-SNE and UMAP, 2-D and 3-D.
Usage: python tools/build_default_embeddings.py
"""

import time

from fmnist_core.analysis.embeddings import embed, make_request, shipped_embeddings_dir
from fmnist_core.data.fashion_mnist import load_dataset
from fmnist_core.versions import available_artifacts, shipped_models_dir

out = shipped_embeddings_dir()
for stale in out.glob("*.npz") if out.exists() else []:
    stale.unlink()
shipped = [a for a in available_artifacts()[0] if a.path.parent == shipped_models_dir()]
best = max(shipped, key=lambda a: a.manifest["test_accuracy"]).name
ds = load_dataset()
for source in ("pixels", best):
    for method in ("pca", "tsne", "umap"):
        for dims in (2, 3):
            start = time.perf_counter()
            emb = embed(make_request(source, method, 5000, dims), dataset=ds, save_to=out)
            print(f"{source:10s} {method:5s} {dims}D {time.perf_counter() - start:6.1f} s")
print(f"default views in {out}")
