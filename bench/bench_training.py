"""Training throughput of the engine's input pipeline against plain model.fit on numpy arrays,
same model and batch size, interleaved in one run; then each shipped model's recipe wall time.

Goal: engine / plain >= 1.0 (the pipeline adds no overhead).
"""

import json
import statistics
import time
from pathlib import Path

import numpy as np

from fmnist_core import train as engine
from fmnist_core.artifacts import shipped_models_dir
from fmnist_core.data import load_dataset
from fmnist_core.models import create_model, get_spec

CASES = [("cnn1", 256), ("strided3", 32), ("twoconv", 512)]
N = 24_000
ROUNDS = 3

ds = load_dataset()
x, y = ds.x_train[:N], ds.y_train[:N]
x4 = x.reshape(-1, 28, 28, 1)
print(f"device: {engine.device_description()}, backend {engine.backend_name()}, {N} images/epoch")
print(f"{'model':10s} {'batch':>5s} {'plain fit img/s':>16s} {'engine img/s':>13s} {'ratio':>6s}")
for name, batch in CASES:
    recipe = get_spec(name).recipe
    plain_model, engine_model = create_model(name), create_model(name)
    engine.compile_model(plain_model, recipe)
    engine.compile_model(engine_model, recipe)
    xf = x4.astype(np.float32)  # what a tutorial feeds model.fit
    pipeline = engine.make_dataset(x, y, batch, shuffle=True, seed=0)
    plain_model.fit(xf[:2048], y[:2048], batch_size=batch, epochs=1, verbose=0)  # warm-up/trace
    engine_model.fit(
        engine.make_dataset(x[:2048], y[:2048], batch, shuffle=True, seed=0), verbose=0
    )
    plain_t, engine_t = [], []
    for _ in range(ROUNDS):  # interleaved, so machine noise hits both alike
        t = time.perf_counter()
        plain_model.fit(xf, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)
        plain_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        engine_model.fit(pipeline, epochs=1, verbose=0)
        engine_t.append(time.perf_counter() - t)
    p, e = N / statistics.median(plain_t), N / statistics.median(engine_t)
    print(f"{name:10s} {batch:5d} {p:16.0f} {e:13.0f} {e / p:6.2f}x")

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
