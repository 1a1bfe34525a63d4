"""Recompute each artifact's test scores from its stored float16 probabilities.

Artifacts trained before scores were computed from the stored probabilities can count a
handful of near-ties differently from the pages; this makes the manifests agree. The manifest
is rewritten atomically; model and probability files are untouched (their hashes still match).
Usage: python tools/rescore_manifests.py [FOLDER]   (default: assets/models)
"""

import sys
from pathlib import Path

from fmnist_core.analysis.evaluate import evaluate_probabilities
from fmnist_core.atomic import write_json_atomic
from fmnist_core.data.fashion_mnist import load_dataset
from fmnist_core.versions import MANIFEST_FILE, load_artifact

root = Path(sys.argv[1] if len(sys.argv) > 1 else "assets/models")
y_test = load_dataset().y_test
for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
    art = load_artifact(folder.name, root, "shipped")
    scores = evaluate_probabilities(art.test_probabilities(), y_test)
    before = art.manifest["test_accuracy"]
    manifest = {**art.manifest, **scores}
    if manifest.get("reported_accuracy") is not None:
        manifest["accuracy_vs_reported"] = round(
            scores["test_accuracy"] - manifest["reported_accuracy"], 5
        )
    write_json_atomic(folder / MANIFEST_FILE, manifest, indent=1)
    print(f"{folder.name}: test accuracy {before:.4f} -> {scores['test_accuracy']:.4f}")
