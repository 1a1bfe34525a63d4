"""The command line: `python -m fmnist_core <command>`; each command is one thin function."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import math
import sys
from pathlib import Path
from typing import Any, get_args

import numpy as np
from tqdm import tqdm

from fmnist_core import native_log
from fmnist_core.analysis.calibration import calibrate, ece
from fmnist_core.analysis.embeddings import embed, make_request
from fmnist_core.analysis.evaluate import evaluate_probabilities, predict_probabilities
from fmnist_core.analysis.predict import Predictor, headline
from fmnist_core.atomic import write_bytes_atomic
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.classroom import quiz
from fmnist_core.contracts import Augmentation, ProgressEvent
from fmnist_core.data.fashion_mnist import class_counts, load_dataset
from fmnist_core.data.preprocess import preprocess
from fmnist_core.errors import FmnistError
from fmnist_core.explain.explanation import explain, write_pictures
from fmnist_core.explain.inspector import Inspector
from fmnist_core.models import get_spec
from fmnist_core.roles import MACHINE_OWNER
from fmnist_core.training.checkpoint import interrupted_runs, newest_interrupted
from fmnist_core.versions import (
    activate,
    available_artifacts,
    delete_version,
    split_ref,
    trained_artifact,
)
from fmnist_core.versions.catalog import model_catalog


def _jsonable(value):
    """`value` in plain JSON types: numpy scalars and arrays (a drawing's `filled` is a
    numpy bool), paths as text, and NaN or infinity as null (JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def _print_json(value, indent: int | None = None) -> None:
    """The one way a command prints --json: strict JSON, whatever types the values have."""
    print(json.dumps(_jsonable(value), indent=indent, allow_nan=False))


def cmd_data(args: argparse.Namespace) -> int:
    ds = load_dataset(args.source)
    train_counts, test_counts = class_counts(ds.y_train), class_counts(ds.y_test)
    report: dict[str, Any] = {
        "source": ds.source.describe(),
        "source_kind": ds.source.kind,
        "origin": ds.source.origin,
        "location": str(ds.source.location),
        "from_cache": ds.from_cache,
        "load_seconds": round(ds.load_seconds, 4),
        "checksum": ds.checksum,
        "is_original": ds.is_original,
        "shapes": {
            "x_train": list(ds.x_train.shape),
            "y_train": list(ds.y_train.shape),
            "x_test": list(ds.x_test.shape),
            "y_test": list(ds.y_test.shape),
        },
        "class_counts": {
            name: {"train": int(tr), "test": int(te)}
            for name, tr, te in zip(CLASS_NAMES, train_counts, test_counts)
        },
    }
    if args.json:
        _print_json(report, indent=2)
        return 0
    print(f"Source:    {report['source']}")
    print(
        f"Loaded in: {ds.load_seconds:.3f} s ({'cache' if ds.from_cache else 'converted, now cached'})"
    )
    print(f"Original:  {'yes, matches the published dataset' if ds.is_original else 'NO, differs'}")
    for key, shape in report["shapes"].items():
        print(f"  {key:8s} {tuple(shape)}")
    print(f"  {'class':14s} {'train':>6s} {'test':>6s}")
    for i, name in enumerate(CLASS_NAMES):
        print(f"  {i} {name:12s} {train_counts[i]:6d} {test_counts[i]:6d}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    rows = model_catalog()
    for r in rows:  # runs a restart interrupted: `train MODEL --resume` continues them
        r["interrupted"] = [run.as_json() for run in interrupted_runs(r["name"])]
    if args.json:
        _print_json(rows, indent=2)
        return 0
    print(
        f"{'model':14s} {'tutorial':5s} {'status':24s} {'params':>9s} {'test acc':>8s} {'reported':>8s}"
    )
    for r in rows:
        acc = f"{r['test_accuracy'] * 100:.2f}%" if r["test_accuracy"] is not None else "-"
        rep = f"{r['reported_accuracy'] * 100:.2f}%" if r["reported_accuracy"] else "-"
        params = f"{r['params']:,}" if r["params"] else "-"
        print(
            f"{r['name']:14s} {r['tutorial'][:3]:5s} {r['status']:24s} {params:>9s} {acc:>8s} {rep:>8s}"
        )
        if r["problem"]:
            print(f"    problem: {r['problem']}")
        if len(r["versions"]) > 1:  # the shipped one and runs: show which is in use
            for v in r["versions"]:
                acc = f"{v['test_accuracy'] * 100:.2f}%" if v["test_accuracy"] is not None else "-"
                mark = "*" if v["active"] else " "
                print(f"  {mark} {v['id']:22s} {acc:>8s}  {v['changes'] or ''}")
        for run in r["interrupted"]:
            print(f"  ! run {run['run_id']} interrupted at epoch {run['epoch']} of "
                  f"{run['epochs']}: python -m fmnist_core train {r['name']} --resume")  # fmt: skip
    return 0


def cmd_activate(args: argparse.Namespace) -> int:
    get_spec(args.model)
    art = activate(args.model, args.version, actor=MACHINE_OWNER)
    acc = art.manifest.get("test_accuracy")
    print(f"{args.model}: version {args.version} is active"
          + (f" (test accuracy {acc * 100:.2f}%)" if acc is not None else ""))  # fmt: skip
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    get_spec(args.model)
    delete_version(args.model, args.version, actor=MACHINE_OWNER)
    print(f"{args.model}: version {args.version} deleted")
    return 0


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return ""


@contextlib.contextmanager
def _progress_bar(desc: str = ""):
    """Terminal progress fed by a long computation's ProgressEvents (fmnist_core.contracts);
    yields the callback. Training: a bar over each epoch's batches and a line per epoch;
    any other job ("step" events): one percent bar named `desc`. Bars go to standard error,
    none when it is not a terminal (disable=None); the open bar is closed at the end."""
    state: dict = {"bar": None, "key": None}

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].close()
        state["bar"] = state["key"] = None

    def bar_for(key, **options) -> tqdm:
        if state["key"] != key:
            close()
            state["bar"] = tqdm(disable=None, file=sys.stderr, **options)
            state["key"] = key
        return state["bar"]

    def on_event(event: ProgressEvent) -> None:
        kind = event["event"]
        if kind == "step":
            bar = bar_for("step", total=100, desc=desc, unit="%")
            bar.set_postfix_str(event.get("message", ""))
            bar.update(max(0, round(event.get("fraction", 0.0) * 100) - bar.n))
        elif kind == "batch":
            fold = f"fold {event['fold']}/{event['folds']} " if event.get("fold") else ""
            bar = bar_for(
                (event.get("fold"), event["epoch"]),
                total=event["batches"], unit="batch", leave=False,
                desc=f"{fold}epoch {event['epoch']}/{event['epochs']} ({event['phase']})",
            )  # fmt: skip
            bar.update(1)
            logs = event["logs"]
            bar.set_postfix(loss=f"{logs.get('loss', 0):.4f}", acc=f"{logs.get('accuracy', 0):.4f}")
        elif kind == "epoch":
            logs = event["logs"]
            val = (
                f" val_loss {logs['val_loss']:.4f} val_acc {logs['val_accuracy']:.4f}"
                if "val_loss" in logs
                else ""
            )
            tqdm.write(
                f"epoch {event['epoch']}/{event['epochs']} {event['phase']}: loss {logs['loss']:.4f} "
                f"acc {logs['accuracy']:.4f}{val} ({logs['seconds']:.1f} s)"
            )
        elif kind in ("evaluate", "save"):
            close()
            tqdm.write("evaluating on the test set..." if kind == "evaluate" else "saving...")

    try:
        yield on_event
    finally:
        close()


def cmd_train(args: argparse.Namespace) -> int:
    if args.interrupted or args.resume:  # before TensorFlow loads: a refusal is quick
        return _train_interrupted(args)
    # loads TensorFlow: only for the commands that need it
    from fmnist_core.training.run import TrainOptions, run_training

    opts = TrainOptions(
        epochs=args.epochs, augment_epochs=args.augment_epochs, batch_size=args.batch_size,
        augmentation=args.augmentation, kfold=args.kfold, seed=args.seed, limit=args.limit,
        distribute=args.distribute, precision=args.precision, weights=args.weights,
        image_size=args.image_size, widths=args.widths,
        note=args.note or "",
        started_by=_who(), via="cli", session=MACHINE_OWNER.id,
    )  # fmt: skip
    with _progress_bar() as progress:
        art = run_training(args.model, opts, progress=progress, root=args.out)
    m = art.manifest
    print(
        f"{args.model}: test accuracy {m['test_accuracy'] * 100:.2f}%, loss {m['test_loss']:.4f}, "
        f"{m['training_seconds']:.0f} s on {m['device']} ({m['backend']})"
    )
    k = m.get("kfold")
    if k:
        print(f"  {k['k']}-fold: mean {k['mean'] * 100:.2f}% std {k['std'] * 100:.2f}")
    print(f"  saved to {art.path}")
    return 0


# the training settings a resumed run takes from its checkpoint, not from the command line
_RUN_SETTINGS = ("epochs", "augment_epochs", "augmentation", "kfold", "batch_size", "limit",
                 "distribute", "precision", "weights", "image_size", "widths", "out",
                 "note")  # fmt: skip


def _train_interrupted(args: argparse.Namespace) -> int:
    """`train MODEL --interrupted`: the model's interrupted runs, one a line; `--resume`: the
    newest continued from its last complete epoch."""
    get_spec(args.model)
    if args.interrupted:
        runs = interrupted_runs(args.model)
        if args.json:
            _print_json([r.as_json() for r in runs], indent=2)
        for r in runs if not args.json else []:
            print(r.describe())
        if not runs and not args.json:
            print(f"{args.model}: no interrupted run")
        return 0
    if args.kfold:
        raise FmnistError("k-fold runs keep no checkpoints and cannot be resumed: train again.")
    given = [f"--{k.replace('_', '-')}" for k in _RUN_SETTINGS if getattr(args, k) is not None]
    if given or args.seed:
        raise FmnistError(
            f"--resume continues a run with the settings it started with: drop {', '.join(given or ['--seed'])}"
        )
    newest_interrupted(args.model)  # one line, before TensorFlow loads, if there is none
    from fmnist_core.training.run import resume_training  # loads TensorFlow

    with _progress_bar() as progress:
        art = resume_training(args.model, progress=progress)
    m = art.manifest
    at = (m.get("resumed") or [{}])[-1].get("at_epoch")
    print(
        f"{args.model}: resumed after epoch {at}; test accuracy {m['test_accuracy'] * 100:.2f}%, "
        f"{len(m['history'])} epochs, {m['training_seconds']:.0f} s on {m['device']}"
    )
    print(f"  saved to {art.path}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    art = trained_artifact(args.model)  # MODEL or MODEL@VERSION
    ds = load_dataset()
    model = art.load_model()
    probs = predict_probabilities(model, ds.x_test)
    scores = evaluate_probabilities(probs, ds.y_test)
    # the stored temperature (fitted when the model was trained), else fitted now
    calibration = art.manifest.get("calibration") or calibrate(model, art.manifest, ds, probs)
    report = {
        "name": art.name,
        "version": art.version,
        "path": str(art.path),
        "origin": art.origin,
        "manifest_test_accuracy": art.manifest.get("test_accuracy"),
        **scores,
        "ece": round(ece(probs, ds.y_test), 6),
        "temperature": calibration["temperature"],
        "ece_scaled": calibration["ece_scaled"],
        "temperature_fitted_on": calibration["fitted_on"],
    }
    if args.json:
        _print_json(report, indent=2)
        return 0
    print(f"{art.name}, version {art.version} ({art.origin}, {art.path})")
    print(f"  test accuracy {scores['test_accuracy'] * 100:.2f}%  loss {scores['test_loss']:.4f}")
    print(
        f"  calibration error (ECE, 15 bins) {report['ece']:.4f}; temperature "
        f"{report['temperature']:.3f} gives {report['ece_scaled']:.4f}"
    )
    print(f"  {'class':12s} {'prec':>6s} {'recall':>6s} {'f1':>6s}")
    for cls, s in scores["per_class"].items():
        print(f"  {cls:12s} {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f}")
    return 0


def _pictures(args: argparse.Namespace):
    """Each IMAGE of a command through the app's preprocessing (--invert, --fill):
    (path, Preprocessed, None), or (path, None, the reason it could not be read)."""
    invert = {"auto": None, "yes": True, "no": False}[args.invert]
    fill = {"auto": None, "yes": True, "no": False}[args.fill]
    for path in args.images:
        try:
            yield path, preprocess(path, invert=invert, fill=fill), None
        except FmnistError as e:
            yield path, None, str(e)


def cmd_predict(args: argparse.Namespace) -> int:
    names = None if args.model == "all" else [args.model]
    if names:
        get_spec(split_ref(args.model)[0])  # an unknown name fails with the known ones
    artifacts, problems = available_artifacts(names)
    for name, problem in problems.items():
        print(f"warning: {name} skipped: {problem}", file=sys.stderr)
    if not artifacts:
        raise FmnistError("No trained model is available: run `python -m fmnist_core train cnn1`")
    predictor = Predictor(artifacts)
    results, failed = [], 0
    for path, prep, error in _pictures(args):
        if error:
            failed += 1
            results.append({"image": path, "error": error})
            continue
        answers = predictor(prep.image, prep.as_drawn, mirrored=True)  # a user's file
        head = headline(answers)
        results.append({
            "image": path,
            "inverted": prep.inverted,
            "filled": prep.filled,
            "headline": {"model": head.model, "class": head.class_name, "label": head.label,
                         "agree": head.agree, "others": head.others,
                         "unsure": [c for c, _ in head.unsure] if head.unsure else None},
            "models": {n: a.as_json() for n, a in answers.items()},
        })  # fmt: skip
    if args.json:
        _print_json(results, indent=2)
    else:
        for r in results:
            if "error" in r:
                print(f"{r['image']}: ERROR {r['error']}")
                continue
            head = r["headline"]
            who = f"the {head['model']} model" if head["model"] else "the majority"
            agree = f"{head['agree']} of {head['others']} {'others' if head['model'] else 'models'}"
            says = (f"is not sure: {' or '.join(head['unsure'])}?" if head["unsure"]
                    else f"says {head['class']}")  # fmt: skip
            print(f"{r['image']}: {who} {says} ({agree} agree)"
                  + ("; outlines filled" if r["filled"] else ""))  # fmt: skip
            for name, a in r["models"].items():
                print(f"  {name:14s} {a['class']:12s} {max(a['probabilities']) * 100:5.1f}%")
    return 1 if failed else 0


def cmd_explain(args: argparse.Namespace) -> int:
    get_spec(split_ref(args.model)[0])  # unknown names fail with the list of known ones
    if args.class_ is not None and not 0 <= args.class_ <= 9:
        raise FmnistError(f"--class must be 0 to 9, got {args.class_}")
    art = trained_artifact(args.model)  # MODEL or MODEL@VERSION
    inspector = Inspector(art.load_model(), art.name)
    layers = [info.as_json() for info in inspector.info]
    results, failed = [], 0
    for number, (path, prep, error) in enumerate(_pictures(args)):
        if error:
            failed += 1
            results.append({"image": path, "error": error})
            continue
        classes = None if args.class_ is None else [args.class_]
        ex = explain(inspector, prep.image, classes, top=1)
        result = {"image": path, "model": art.ref, **ex.as_json(), "layers": layers}
        if args.out:
            stem = f"{number:03d}-{Path(path).stem}"
            result["files"] = [str(p) for p in write_pictures(ex, inspector, args.out, stem)]
        results.append(result)
    if args.json:
        _print_json(results)
    else:
        for r in results:
            if "error" in r:
                print(f"{r['image']}: ERROR {r['error']}")
                continue
            print(f"{r['image']}: {r['model']} explains {r['class_name']} "
                  f"({r['probability'] * 100:.1f}%) with {r['method'].replace('_', ' ')} "
                  f"and Grad-CAM on {r['gradcam_layer']}")  # fmt: skip
            for f in r.get("files", []):
                print(f"  wrote {f}")
    return 1 if failed else 0


def cmd_label_issues(args: argparse.Namespace) -> int:
    # loads TensorFlow: only for the commands that need it
    from fmnist_core.quality.label_issues import FinderRequest, load_labels, training_suspects

    get_spec(args.model)  # an unknown name fails with the known ones
    if args.folds < 2 or args.epochs < 1:
        raise FmnistError("--folds must be at least 2 and --epochs at least 1")
    labels = load_labels(args.labels) if args.labels else None
    ds = load_dataset()
    request = FinderRequest(args.model, args.folds, args.epochs, args.seed)
    desc = f"{args.folds}-fold {args.model}, {args.epochs} epochs a fold"
    with _progress_bar(desc) as progress:
        suspects, _, cached = training_suspects(
            ds, labels, request, progress, use_cache=not args.no_cache
        )
    found = len(suspects)
    top = suspects.top(args.top)
    if args.json:
        _print_json(top.as_json())
        return 0
    how = "from the cache" if cached else "computed"
    print(f"{found:,} suspect training labels ({how}; out-of-sample probabilities from {desc})")
    for i, given, suggested, score in list(zip(top.indices, top.given, top.suggested, top.scores))[
        : 20 if args.top is None else args.top
    ]:
        print(f"  #{i:<6d} labelled {CLASS_NAMES[given]:12s} looks like "
              f"{CLASS_NAMES[suggested]:12s} (p of its label {score:.4f})")  # fmt: skip
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    # loads TensorFlow: only for the commands that need it
    from fmnist_core.report import make_report

    out = Path(args.out)
    if out.is_dir():
        raise FmnistError(
            f"--out {out} is a folder; give a file name such as {out / 'report.html'}"
        )
    if not out.parent.is_dir():
        raise FmnistError(f"Cannot write {out}: the folder {out.parent} does not exist")
    text = make_report(args.model, args.vs)
    try:
        write_bytes_atomic(out, text.encode())
    except OSError as e:
        raise FmnistError(f"Cannot write {out}: {e.strerror or e}") from e
    print(f"report on {args.model}" + (f" against {args.vs}" if args.vs else "")
          + f" written to {out} ({len(text) / 1e6:.1f} MB, opens without a network)")  # fmt: skip
    return 0


def cmd_quiz_results(args: argparse.Namespace) -> int:
    ds = load_dataset()
    res = quiz.class_results(args.code, ds.y_test, MACHINE_OWNER)
    names = res.names or []  # the command line acts as the teacher: it sees the names
    scores = res.scores(ds.y_test)
    per_image = res.per_image(ds.y_test)
    report = {
        "code": res.code,
        "images": [int(i) for i in res.images],
        "finished": len(names),
        "in_progress": res.in_progress,
        "human_baseline": quiz.HUMAN_BASELINE,
        "people": [{"name": n, "score": round(float(s), 4), "answers": [int(a) for a in row]}
                   for n, s, row in zip(names, scores, res.answers)],
        "per_image": [None if np.isnan(v) else round(float(v), 4) for v in per_image],
    }  # fmt: skip
    if args.json:
        _print_json(report)
        return 0
    print(f"quiz {res.code}: {len(names)} finished, {res.in_progress} still answering")
    if len(scores):
        print(f"  class mean {scores.mean():.0%}, median {np.median(scores):.0%}; "
              f"people in Zalando's study {quiz.HUMAN_BASELINE:.1%}")  # fmt: skip
        for n, s in sorted(zip(names, scores), key=lambda t: -t[1]):
            print(f"  {s:5.0%}  {n}")
        hardest = int(np.nanargmin(per_image))
        print(f"  hardest: test image #{res.images[hardest]} "
              f"({CLASS_NAMES[ds.y_test[res.images[hardest]]]}), {per_image[hardest]:.0%} right")  # fmt: skip
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    params = {}
    if args.perplexity is not None:
        params["perplexity"] = args.perplexity
    if args.n_neighbors is not None:
        params["n_neighbors"] = args.n_neighbors
    if args.min_dist is not None:
        params["min_dist"] = args.min_dist
    if args.method == "custom":
        params.update(class_a=args.class_a, class_b=args.class_b)
    req = make_request(args.source, args.method, args.n, args.dims, args.seed, **params)
    with _progress_bar(f"{args.method} of {args.n:,} images") as progress:
        emb = embed(req, progress=progress, use_cache=not args.no_cache)
    text = emb.to_csv()
    if args.out:
        Path(args.out).write_text(text)
        how = "from the cache" if emb.from_cache else f"in {emb.info.get('seconds', 0):.1f} s"
        print(f"{len(emb.coords):,} points ({how}) written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _add_data(sub) -> None:
    p = sub.add_parser("data", help="find, verify and load the dataset; show what was found")
    p.add_argument("--source", help="a folder (or file) with the IDX files or the CSV pair")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_data)


def _add_list(sub) -> None:
    p = sub.add_parser("list", help="every registry model and whether it is trained")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a registry model by its tutorial's recipe and save it")
    p.add_argument("model")
    p.add_argument("--epochs", type=int, help="plain epochs (default: the recipe's)")
    p.add_argument("--augment-epochs", type=int, help="augmented epochs after the plain ones")
    p.add_argument(
        "--augmentation",
        choices=get_args(Augmentation),
        help="what the augmented epochs vary (default: the recipe's)",
    )
    p.add_argument("--kfold", type=int, help="k-fold cross-validation with K folds (0 = off)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, help="train on a stratified subset of N images")
    p.add_argument("--distribute", choices=["mirrored", "multiworker", "data-parallel"])
    p.add_argument(
        "--precision",
        choices=["float32", "mixed_float16", "mixed_bfloat16"],
        help="dtype policy (default: mixed_float16 on a GPU, float32 on a CPU)",
    )
    p.add_argument("--weights", help="VGG19: weights file instead of Keras' ImageNet download")
    p.add_argument("--image-size", type=int, help="VGG19: input size (at least 32)")
    p.add_argument(
        "--widths",
        type=lambda text: [int(w) for w in text.split(",")],
        help="resnet: filters of its three stages, e.g. 64,128,256 (default 32,64,128)",
    )
    p.add_argument(
        "--out", type=Path, help="save as OUT/MODEL/ (default: a new version in the user cache)"
    )
    p.add_argument("--note", help="why this run departs from the recipe (kept in the manifest)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue MODEL's newest interrupted run from its last complete epoch",
    )
    p.add_argument(
        "--interrupted", action="store_true", help="list MODEL's interrupted runs (with --json)"
    )
    p.add_argument("--json", action="store_true", help="with --interrupted: as JSON")
    p.set_defaults(func=cmd_train)


def _add_positional_commands(sub) -> None:
    """The commands of positional arguments only (and --json)."""
    # (name, help, function, arguments)
    for name, what, func, arguments in (
        ("activate", "make one version of a model the one everything uses", cmd_activate,
         [("model", None), ("version", "a version id from `list`, or shipped")]),
        ("delete", "delete one trained version (never the shipped one)", cmd_delete,
         [("model", None), ("version", "a version id from `list`")]),
        ("evaluate", "evaluate a trained model on the test set", cmd_evaluate,
         [("model", "a model (its active version) or MODEL@VERSION"), ("--json", None)]),
        ("quiz-results", "every finished result of a classroom quiz", cmd_quiz_results,
         [("code", "the quiz code"), ("--json", None)]),
    ):  # fmt: skip
        p = sub.add_parser(name, help=what)
        for argument, words in arguments:
            if argument == "--json":
                p.add_argument("--json", action="store_true")
            else:
                p.add_argument(argument, help=words)
        p.set_defaults(func=func)


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="classify image files with every model (or one)")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument(
        "--model", default="all", help="a registry model, MODEL@VERSION, or all (default)"
    )
    p.add_argument(
        "--invert",
        choices=["auto", "yes", "no"],
        default="auto",
        help="invert to a light item on black: auto detects a light background",
    )
    p.add_argument(
        "--fill",
        choices=["auto", "yes", "no"],
        default="auto",
        help="fill the closed outlines of a drawing into a silhouette: auto detects drawings "
        "made of thin strokes of one colour (photos are never filled)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_predict)


def _add_explain(sub) -> None:
    p = sub.add_parser(
        "explain", help="where a model looked: attribution and Grad-CAM maps, its layers"
    )
    p.add_argument("model", help="a model (its active version) or MODEL@VERSION")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument(
        "--class", dest="class_", type=int, help="the class to explain, 0-9 (default: predicted)"
    )
    p.add_argument("--out", type=Path, help="write the maps and feature maps as PNG files here")
    p.add_argument("--invert", choices=["auto", "yes", "no"], default="auto")
    p.add_argument("--fill", choices=["auto", "yes", "no"], default="auto")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_explain)


def _add_label_issues(sub) -> None:
    p = sub.add_parser(
        "label-issues", help="training images whose label is probably wrong (confident learning)"
    )
    p.add_argument("--model", default="cnn1", help="the registry model trained k-fold (fast)")
    p.add_argument("--labels", help="a .npy of 60,000 integer labels replacing the training labels")
    p.add_argument("--top", type=int, help="print only the N most suspect")
    p.add_argument("--folds", type=int, default=4)
    p.add_argument("--epochs", type=int, default=8, help="epochs per fold")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-cache", action="store_true", help="train even if cached")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_label_issues)


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="a self-contained HTML report on a model (a model card)")
    p.add_argument("model", help="a model (its active version) or MODEL@VERSION")
    p.add_argument("--vs", help="a second model to compare with")
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.set_defaults(func=cmd_report)


def _add_embed(sub) -> None:
    p = sub.add_parser("embed", help="2-D or 3-D embedding of test images, as CSV")
    p.add_argument(
        "--source", default="pixels", help="pixels, a trained model's name, or MODEL@VERSION"
    )
    p.add_argument("--method", choices=["pca", "tsne", "umap", "custom"], default="pca")
    p.add_argument("--n", type=int, default=5000, help="images: 1000-10000, or 70000 (PCA, UMAP)")
    p.add_argument("--dims", type=int, choices=[2, 3], default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--perplexity", type=float, help="t-SNE")
    p.add_argument("--n-neighbors", type=int, help="UMAP")
    p.add_argument("--min-dist", type=float, help="UMAP")
    p.add_argument("--class-a", type=int, default=6, help="custom axis: from this class (6 Shirt)")
    p.add_argument(
        "--class-b", type=int, default=0, help="custom axis: to this class (0 T-shirt/top)"
    )
    p.add_argument("--no-cache", action="store_true", help="compute even if cached")
    p.add_argument("--out", help="CSV file (default: standard output)")
    p.set_defaults(func=cmd_embed)


# each adds one command (or a few alike) with its arguments, in the order `--help` lists them
_COMMANDS = (
    _add_data,
    _add_list,
    _add_train,
    _add_positional_commands,
    _add_predict,
    _add_explain,
    _add_label_issues,
    _add_report,
    _add_embed,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fmnist_core",
        description="Fashion-MNIST CNN explorer: the command line.",
        epilog="--verbose (anywhere on the line): show TensorFlow's and absl's own start-up "
        "lines on stderr too; otherwise they go to <cache>/logs/native.log.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add_command in _COMMANDS:
        add_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line. TensorFlow's and absl's own lines go to <cache>/logs/native.log
    (native_log.py); `--verbose`, anywhere on the line, leaves them on stderr."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv
    argv = [a for a in argv if a != "--verbose"]
    args = build_parser().parse_args(argv)
    quiet = contextlib.nullcontext() if verbose else native_log.to_log()
    with quiet:
        return _run(args)


def _run(args) -> int:
    try:
        return args.func(args)
    except FmnistError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
