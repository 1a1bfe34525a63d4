"""Training throughput of the engine against plain model.fit on numpy arrays, same model and
batch size, interleaved in one run; then each shipped model's recipe wall time.

Two engine figures: its input pipeline alone (compiled like the tutorial, one batch per call),
and the engine as it trains (the same pipeline, several small batches per compiled call).
Goal: engine / plain >= 1.0 (our training adds no overhead).
"""

import json
import statistics
import time
from pathlib import Path

import keras
import numpy as np

from fmnist_core.data.fashion_mnist import load_dataset
from fmnist_core.models import create_model, get_spec
from fmnist_core.training import engine
from fmnist_core.versions import shipped_models_dir

CASES = [("cnn1", 256), ("strided3", 32), ("twoconv", 512)]
N = 24_000
ROUNDS = 3

ds = load_dataset()
x, y = ds.x_train[:N], ds.y_train[:N]
x4 = x.reshape(-1, 28, 28, 1)
print(f"device: {engine.device_description()}, backend {engine.backend_name()}, {N} images/epoch")
print(
    f"{'model':10s} {'batch':>5s} {'plain fit':>10s} {'pipeline':>9s} {'ratio':>6s} "
    f"{'engine':>7s} {'ratio':>6s}   (images/s)"
)


def one_epoch(kind: str, model, batch: int, n: int) -> float:
    """Seconds for one epoch of n images: numpy arrays for plain fit, the pipeline otherwise."""
    if kind != "plain" and (batch, n) not in pipelines:  # built once, reshuffled every epoch
        pipelines[batch, n] = engine.make_dataset(x[:n], y[:n], batch, shuffle=True, seed=0)
    t = time.perf_counter()
    if kind == "plain":  # what a tutorial does: float32 numpy arrays into model.fit
        model.fit(xf[:n], y[:n], batch_size=batch, epochs=1, shuffle=True, verbose=0)
    else:
        model.fit(pipelines[batch, n], verbose=0)
    return time.perf_counter() - t


xf = x4.astype(np.float32)
pipelines = {}
for name, batch in CASES:
    recipe = get_spec(name).recipe
    models = {}
    for kind in ("plain", "pipeline", "engine"):
        keras.utils.set_random_seed(0)
        models[kind] = create_model(name)
        engine.compile_model(models[kind], recipe, group_steps=kind == "engine")
        one_epoch(kind, models[kind], batch, 2048)  # warm-up: trace and compile
    times = {kind: [] for kind in models}
    for _ in range(ROUNDS):  # interleaved, so machine noise hits all alike
        for kind, model in models.items():
            times[kind].append(one_epoch(kind, model, batch, N))
    rate = {kind: N / statistics.median(t) for kind, t in times.items()}
    print(
        f"{name:10s} {batch:5d} {rate['plain']:10.0f} {rate['pipeline']:9.0f} "
        f"{rate['pipeline'] / rate['plain']:5.2f}x {rate['engine']:7.0f} "
        f"{rate['engine'] / rate['plain']:5.2f}x"
    )

print()
print("Shipped models, full recipe as trained (from each manifest):")
print(
    f"{'model':14s} {'epochs':>6s} {'aug':>4s} {'k-fold':>6s} {'train s':>8s} {'test acc':>8s} {'tutorial':>8s} device"
)
for manifest in sorted(Path(shipped_models_dir()).glob("*/manifest.json")):
    m = json.loads(manifest.read_text())
    r = m["recipe"]
    kfold = m["kfold"]["k"] if m.get("kfold") else 0
    fold_s = sum(f["seconds"] for f in m["kfold"]["folds"]) if m.get("kfold") else 0
    print(
        f"{m['name']:14s} {r['epochs']:6d} {r['augment_epochs']:4d} {kfold:6d} "
        f"{m['training_seconds'] + fold_s:8.0f} {m['test_accuracy'] * 100:7.2f}% "
        f"{m['reported_accuracy'] * 100:7.2f}% {m['device']} ({m['backend']})"
    )
