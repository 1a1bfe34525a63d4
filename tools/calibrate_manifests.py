"""Fit each artifact's temperature on its held-out images and record it, with the test set's
ECE before and after, as the manifest's "calibration" entry (new training runs do this
themselves). The manifest is rewritten atomically; model and probability files are untouched.
Usage: python tools/calibrate_manifests.py [FOLDER]   (default: assets/models)
"""

import sys
from pathlib import Path

from fmnist_core.analysis.calibration import calibrate
from fmnist_core.atomic import write_json_atomic
from fmnist_core.data.fashion_mnist import load_dataset
from fmnist_core.versions import MANIFEST_FILE, load_artifact

root = Path(sys.argv[1] if len(sys.argv) > 1 else "assets/models")
ds = load_dataset()
for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
    art = load_artifact(folder.name, root, "shipped")
    entry = calibrate(art.load_model(), art.manifest, ds, art.test_probabilities())
    write_json_atomic(folder / MANIFEST_FILE, {**art.manifest, "calibration": entry}, indent=1)
    print(
        f"{folder.name:14s} T = {entry['temperature']:.3f}  ECE {entry['ece']:.4f} -> "
        f"{entry['ece_scaled']:.4f}  (fitted on {entry['fitted_on']})"
    )
