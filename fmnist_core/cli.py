"""The command line: `python -m fmnist_core <command>`; each command is one thin function."""

from __future__ import annotations

import argparse
import json
import sys

from fmnist_core.errors import FmnistError


def cmd_data(args: argparse.Namespace) -> int:
    from fmnist_core.classes import CLASS_NAMES
    from fmnist_core.data import class_counts, load_dataset

    ds = load_dataset(args.source)
    train_counts, test_counts = class_counts(ds.y_train), class_counts(ds.y_test)
    report = {
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
        print(json.dumps(report, indent=2))
        return 0
    print(f"Source:    {report['source']}")
    print(f"Loaded in: {ds.load_seconds:.3f} s ({'cache' if ds.from_cache else 'converted, now cached'})")
    print(f"Original:  {'yes, matches the published dataset' if ds.is_original else 'NO, differs'}")
    for key, shape in report["shapes"].items():
        print(f"  {key:8s} {tuple(shape)}")
    print(f"  {'class':14s} {'train':>6s} {'test':>6s}")
    for i, name in enumerate(CLASS_NAMES):
        print(f"  {i} {name:12s} {train_counts[i]:6d} {test_counts[i]:6d}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fmnist_core", description="Fashion-MNIST CNN explorer: the command line."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="find, verify and load the dataset; show what was found")
    p.add_argument("--source", help="a folder (or file) with the IDX files or the CSV pair")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except FmnistError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
