"""Checkpoints of a run in progress, so that training survives a restart.

A run (not k-fold, not the ensemble) keeps `<cache>/versions/<name>/.inprogress-<id>/` while
it trains: `run.json` (what it trains: its options, where it saves, its process; written when
it starts) and `checkpoint.npz` (after every epoch: the weights, the optimiser's variables,
the epochs done and their history, the seed), replaced in one rename so that a kill at any
moment leaves the last complete epoch. The folder's name starts with a dot, so it is never
taken for a version (history.user_version_ids skips such names). A finished run, or a
cancelled one, deletes it; a run whose process is gone (killed, a server restart, a reboot)
is interrupted and `train MODEL --resume` continues it from its last complete epoch.
Backend-neutral: numpy arrays from `keras.ops`, no backend's own format.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core.atomic import write_json_atomic
from fmnist_core.contracts import EpochRow
from fmnist_core.errors import FmnistError
from fmnist_core.versions import versions_dir

PREFIX = ".inprogress-"
RUN_FILE = "run.json"
CHECKPOINT_FILE = "checkpoint.npz"


class NothingToResume(FmnistError):
    """--resume found no interrupted run."""


@dataclass
class Restored:
    """What a checkpoint gives back to the engine: the epochs done, the phase reached."""

    history: list[EpochRow]
    phase: int  # index into the recipe's phases (engine._phases)
    phase_epoch: int  # epochs of that phase done
    seconds: float  # training time before the interruption
    weights: list[np.ndarray]
    optimizer: list[np.ndarray]


@dataclass
class Interrupted:
    """An interrupted run of a model, as `train --resume` and the Train page see it."""

    name: str
    run_id: str
    folder: Path
    run: dict[str, Any]
    epoch: int  # the last complete epoch
    epochs: int  # the epochs the run asked for
    updated_utc: str = ""
    resumed: list[dict[str, Any]] = field(default_factory=list)
    history: list[EpochRow] = field(default_factory=list)  # the epochs done

    def describe(self) -> str:
        who = (self.run.get("options") or {}).get("started_by") or ""
        return (
            f"{self.name}: run {self.run_id} interrupted at epoch {self.epoch} of {self.epochs}"
            + (f" (started by {who})" if who else "")
            + (f", last saved {self.updated_utc}" if self.updated_utc else "")
        )

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "run_id": self.run_id, "epoch": self.epoch,
                "epochs": self.epochs, "updated_utc": self.updated_utc,
                "started_utc": self.run.get("started_utc"),
                "options": self.run.get("options")}  # fmt: skip


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _process_start() -> str:
    """This process's start time in clock ticks since boot (Linux), so that a process id
    reused after a reboot is not taken for the run's."""
    return _start_of(os.getpid())


def _start_of(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[-1].split()
        return "" if fields[0] == "Z" else fields[19]
    except (OSError, IndexError):
        return ""


def _running(run: dict[str, Any]) -> bool:
    """Whether the run's process still trains (on this machine)."""
    if run.get("host") != socket.gethostname():
        return False
    pid = int(run.get("pid", -1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    started = _start_of(pid)
    if Path("/proc").is_dir() and not started:
        return False  # a zombie: exited
    return not run.get("process_start") or started == run.get("process_start")


class Checkpointer:
    """One run's checkpoint folder: created when the run starts, saved after every epoch,
    deleted when the run ends (saved as a version, or cancelled)."""

    def __init__(self, folder: Path, run: dict[str, Any]):
        self.folder, self.run = folder, run

    @classmethod
    def start(cls, name: str, run: dict[str, Any]) -> Checkpointer:
        run_id = f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
        folder = versions_dir(name) / f"{PREFIX}{run_id}"
        folder.mkdir(parents=True)
        ckpt = cls(folder, {**run, "name": name, "run_id": run_id, "started_utc": _now(),
                            "resumed": []})  # fmt: skip
        ckpt.claim()
        return ckpt

    @classmethod
    def resume(cls, found: Interrupted) -> Checkpointer:
        run = {**found.run, "resumed": [*found.run.get("resumed", []),
                                        {"at_epoch": found.epoch, "utc": _now()}]}  # fmt: skip
        ckpt = cls(found.folder, run)
        ckpt.claim()
        return ckpt

    @property
    def resumed(self) -> list[dict[str, Any]]:
        return list(self.run.get("resumed", []))

    def claim(self) -> None:
        """This process now trains the run (listing tells a live run from an interrupted one)."""
        self.run.update(pid=os.getpid(), host=socket.gethostname(),
                        process_start=_process_start())  # fmt: skip
        write_json_atomic(self.folder / RUN_FILE, self.run)

    def save(self, model: Any, history: list[EpochRow], phase: int, phase_epoch: int,
             seconds: float) -> None:  # fmt: skip
        """The model after a complete epoch, in one rename (a kill leaves the previous one)."""
        from keras import ops  # loads the backend: only while training

        state = {"history": history, "phase": phase, "phase_epoch": phase_epoch,
                 "epoch": len(history), "seconds": seconds, "seed": self.run.get("seed"),
                 "updated_utc": _now()}  # fmt: skip
        arrays: dict[str, Any] = {"state": np.array(json.dumps(state))}
        arrays.update({f"w{i}": np.asarray(w) for i, w in enumerate(model.get_weights())})
        for i, v in enumerate(model.optimizer.variables):
            arrays[f"o{i}"] = np.asarray(ops.convert_to_numpy(v))
        tmp = self.folder / f".{CHECKPOINT_FILE}.{uuid.uuid4().hex[:6]}.tmp"
        try:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.folder / CHECKPOINT_FILE)
        finally:
            tmp.unlink(missing_ok=True)

    def restore(self) -> Restored:
        with np.load(self.folder / CHECKPOINT_FILE, allow_pickle=False) as data:
            state = json.loads(str(data["state"]))
            n_w = sum(1 for k in data.files if k.startswith("w"))
            n_o = sum(1 for k in data.files if k.startswith("o"))
            weights = [data[f"w{i}"] for i in range(n_w)]
            optimizer = [data[f"o{i}"] for i in range(n_o)]
        return Restored(state["history"], int(state["phase"]), int(state["phase_epoch"]),
                        float(state.get("seconds", 0.0)), weights, optimizer)  # fmt: skip

    def delete(self) -> None:
        trash = self.folder.with_name(f".deleted-ckpt-{uuid.uuid4().hex[:6]}")
        with contextlib.suppress(OSError):
            os.replace(self.folder, trash)
            shutil.rmtree(trash, ignore_errors=True)


def _read_state(path: Path) -> dict[str, Any] | None:
    """The state of a checkpoint file without loading its arrays; None if unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["state"]))
    except (OSError, ValueError, KeyError):
        return None


def interrupted_runs(name: str) -> list[Interrupted]:
    """The interrupted runs of `name` with at least one complete epoch, newest first. Runs
    still training are not listed; a dead run that never finished an epoch is removed."""
    root = versions_dir(name)
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.glob(f"{PREFIX}*"), reverse=True):
        try:
            run = json.loads((folder / RUN_FILE).read_text())
        except (OSError, ValueError):
            continue  # being created, or damaged
        if _running(run):
            continue
        state = _read_state(folder / CHECKPOINT_FILE)
        if state is None:  # died before its first epoch: nothing to resume
            if not (folder / CHECKPOINT_FILE).exists():
                shutil.rmtree(folder, ignore_errors=True)
            continue
        found.append(Interrupted(name, str(run.get("run_id", folder.name[len(PREFIX):])),
                                 folder, run, int(state["epoch"]), int(run.get("epochs", 0)),
                                 str(state.get("updated_utc", "")),
                                 list(run.get("resumed", [])),
                                 list(state.get("history", []))))  # fmt: skip
    return found


def newest_interrupted(name: str) -> Interrupted:
    """The run `--resume` continues; NothingToResume (one line) if there is none."""
    runs = interrupted_runs(name)
    if not runs:
        raise NothingToResume(
            f"{name} has no interrupted run to resume (k-fold and ensemble runs keep no "
            f"checkpoints): start one with `python -m fmnist_core train {name}`."
        )
    return runs[0]
