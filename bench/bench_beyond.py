"""Beyond the tutorials: the residual network's training throughput and wall time, the
ensemble against its members, and every shipped model's accuracy against its costs.

1. Images/s of the resnet recipe (the engine's pipeline with crop/mirror/erase augmentation,
   grouped steps, in the precision the shipped run used) against plain `model.fit` on numpy
   arrays at the same batch, in float32 and in that precision, interleaved rounds.
   Goal: recipe / plain >= 1.0.
2. The shipped run's wall time, epochs and seconds per epoch (from its manifest).
3. The ensemble against its best member (goal: above it) and its members.
4. Accuracy, parameters, file size and one-image Predict latency for every shipped model,
   with the Pareto fronts. Assets budget: 40 MB.
"""

import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np

from fmnist_core.analysis.tradeoffs import model_costs, pareto_front
from fmnist_core.data.fashion_mnist import load_dataset
from fmnist_core.models import create_model, get_spec
from fmnist_core.training import engine
from fmnist_core.versions import available_artifacts, shipped_models_dir

N = 6144
ROUNDS = 3
ROOT = Path(__file__).resolve().parent.parent

ds = load_dataset()
shipped = Path(shipped_models_dir())
resnet_manifest = shipped / "resnet" / "manifest.json"
manifest = json.loads(resnet_manifest.read_text()) if resnet_manifest.exists() else {}
precision = manifest.get("precision", "float32")
spec = get_spec("resnet")
recipe = spec.recipe
batch = recipe.batch_size
x, y = ds.x_train[:N], ds.y_train[:N]
xf = x.reshape(-1, 28, 28, 1).astype(np.float32)

print(f"1. resnet training throughput, batch {batch}, {N} images an epoch, "
      f"{engine.device_description()} ({engine.backend_name()})")  # fmt: skip


def build(kind: str):
    policy = precision if kind in ("plain_mixed", "recipe") else "float32"
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    model = create_model("resnet")
    plain = replace(recipe, label_smoothing=0.0, weight_decay=0.0, schedule="constant")
    engine.compile_model(
        model,
        recipe if kind == "recipe" else plain,
        group_steps=kind == "recipe",
        total_steps=10_000,
        steps_per_epoch=N // batch,
    )
    keras.mixed_precision.set_global_policy("float32")
    return model


pipeline = engine.make_dataset(x, y, batch, shuffle=True, seed=0, augment=recipe.augmentation)


def epoch(kind: str, model, n: int = N) -> float:
    t = time.perf_counter()
    if kind == "recipe":
        model.fit(pipeline, verbose=0)
    else:  # what a tutorial does: float32 numpy arrays into model.fit, no augmentation
        model.fit(xf[:n], y[:n], batch_size=batch, epochs=1, shuffle=True, verbose=0)
    return time.perf_counter() - t


kinds = ["plain_float32", "plain_mixed", "recipe"] if precision != "float32" else [
    "plain_float32", "recipe"]  # fmt: skip
models = {}
for kind in kinds:
    models[kind] = build(kind)
    epoch(kind, models[kind], 1024 if kind != "recipe" else N)  # trace and compile
times = {kind: [] for kind in kinds}
for _ in range(ROUNDS):
    for kind in kinds:
        times[kind].append(epoch(kind, models[kind]))
rate = {kind: N / statistics.median(t) for kind, t in times.items()}
for kind in kinds:
    label = {"plain_float32": "plain model.fit, float32",
             "plain_mixed": f"plain model.fit, {precision}",
             "recipe": f"resnet recipe ({recipe.augmentation} augmentation, {precision})"}[kind]  # fmt: skip
    print(f"   {label:55s} {rate[kind]:7.0f} images/s")
for kind in kinds[:-1]:
    print(f"   recipe / {kind}: {rate['recipe'] / rate[kind]:.2f}x (goal >= 1.0)")

print()
print("2. the shipped resnet run")
if manifest:
    h = manifest["history"]
    per_epoch = statistics.median(e["seconds"] for e in h)
    print(
        f"   {len(h)} epochs in {manifest['training_seconds']:.0f} s ({per_epoch:.0f} s an epoch, "
        f"median) on {manifest['device']}, {manifest['backend']}, {manifest['precision']}; "
        f"last epoch's validation accuracy {h[-1]['val_accuracy']:.2%}; "
        f"test accuracy {manifest['test_accuracy']:.2%} (goal >= 95.0%)"
    )
else:
    print("   not shipped")

print()
print("3. the ensemble")
ens_path = shipped / "ensemble" / "manifest.json"
if ens_path.exists():
    ens = json.loads(ens_path.read_text())
    members = {
        n: json.loads((shipped / n / "manifest.json").read_text())["test_accuracy"]
        for n in ens["members"]
    }
    best = max(members, key=members.get)
    sel = ens["member_selection"]
    print(f"   members (chosen on the validation split): {', '.join(ens['members'])}")
    print(
        f"   validation accuracy {sel['val_accuracy']:.2%}; not candidates: {sel['not_candidates']}"
    )
    print(
        f"   test accuracy {ens['test_accuracy']:.2%} against its best member {best} "
        f"{members[best]:.2%}: {'above' if ens['test_accuracy'] > members[best] else 'NOT above'}"
    )
else:
    print("   not shipped")

print()
print("4. accuracy against costs (shipped models; latency: median of 25 one-image predictions)")
artifacts, _ = available_artifacts()
costs = model_costs([a for a in artifacts if a.origin == "shipped"])
params_front = {costs[i].name for i in pareto_front([c.params for c in costs],
                                                    [c.test_accuracy for c in costs])}  # fmt: skip
latency_front = {costs[i].name for i in pareto_front([c.latency_ms for c in costs],
                                                     [c.test_accuracy for c in costs])}  # fmt: skip
print(f"   {'model':14s} {'test acc':>8s} {'params':>10s} {'MB':>6s} {'ms':>6s}  Pareto front")
for c in sorted(costs, key=lambda c: -c.test_accuracy):
    fronts = [w for w, f in (("params", params_front), ("latency", latency_front)) if c.name in f]
    print(
        f"   {c.name:14s} {c.test_accuracy:8.2%} {c.params:10,d} {c.megabytes:6.2f} "
        f"{c.latency_ms:6.2f}  {', '.join(fronts)}"
    )
total = sum(f.stat().st_size for f in (ROOT / "assets").rglob("*") if f.is_file()) / 1e6
print(f"   assets: {total:.1f} MB (budget 40 MB)")
