"""Background training jobs: one at a time per cache folder, with live progress on disk.

A job is a separate process (`python -m fmnist_core.training.jobs`) running the same `run_training`
as the CLI. It holds `<cache>/training.lock` (owner, their id as "session", model, pid) while
it runs and writes its progress to `<cache>/training-status.json`, so any page, any user and a
reloaded browser see the same job. Cancelling is a file the job looks for between batches; in
class mode only the teacher or whoever started the job cancels it (roles.py). A lock whose
process has died is stale and is cleared by the next start.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fmnist_core.atomic import write_json_atomic
from fmnist_core.contracts import JobState, ProgressEvent
from fmnist_core.errors import FmnistError
from fmnist_core.models import get_spec
from fmnist_core.paths import cache_dir
from fmnist_core.roles import TEACHER_ONLY, Actor, NotAllowed, may_manage
from fmnist_core.training.checkpoint import Interrupted, interrupted_runs, newest_interrupted
from fmnist_core.training.engine import TrainingCancelled, device_description
from fmnist_core.training.run import TrainOptions, resume_training, run_training

LOCK_FILE = "training.lock"
STATUS_FILE = "training-status.json"
CANCEL_FILE = "training.cancel"
ACTIVE: tuple[JobState, ...] = ("starting", "running")


class JobBusy(FmnistError):
    """Another training job holds the lock."""


def _path(name: str) -> Path:
    return cache_dir() / name


def _write_json(path: Path, data: dict) -> None:
    write_json_atomic(path, data)  # readers never see half a file


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


_CHILDREN: list[subprocess.Popen] = []  # jobs started by this process, reaped when they end


def read_lock() -> dict | None:
    """The current lock if its process is alive, else None. Only reads: the Train page asks
    every second; recover_stale_lock() is the one place that repairs."""
    for child in list(_CHILDREN):  # reap our own finished children (no file is touched)
        if child.poll() is not None:
            _CHILDREN.remove(child)
    lock = _read_json(_path(LOCK_FILE))
    if lock is None or not _alive(int(lock.get("pid", -1))):
        return None
    return lock


def recover_stale_lock() -> None:
    """Remove a lock whose process died (or a half-written one, after 30 s) and mark its
    job failed, so that the next job can start."""
    path = _path(LOCK_FILE)
    lock = _read_json(path)
    if lock is None:
        if path.exists() and time.time() - path.stat().st_mtime > 30:
            path.unlink(missing_ok=True)  # written by a process killed mid-write
        return
    if _alive(int(lock.get("pid", -1))):
        return
    path.unlink(missing_ok=True)
    status = _read_json(_path(STATUS_FILE))
    if status and status.get("state") in ACTIVE and status.get("pid") == lock.get("pid"):
        _write_json(_path(STATUS_FILE), {**status, "state": "failed", "error": DIED})


DIED = "the training process stopped unexpectedly"


def read_status() -> dict | None:
    """The last job's status; a job whose process died reads as failed (without writing)."""
    status = _read_json(_path(STATUS_FILE))
    if status and status.get("state") in ACTIVE and not _alive(int(status.get("pid", -1))):
        return {**status, "state": "failed", "error": DIED}
    return status


def busy_message(lock: dict, status: dict | None, actor_id: str = "") -> str:
    """Who trains what and how far; to the person who started it (`actor_id`, an Actor's id),
    that it is their own run."""
    progress = ""
    if status and status.get("pid") == lock.get("pid") and status.get("epochs"):
        progress = f": epoch {status.get('epoch', 0)} of {status['epochs']} ({status.get('fraction', 0):.0%})"
    if actor_id and lock.get("session") == actor_id:
        return f"Your training of {lock.get('model')} is running{progress}. Its progress is below."
    return f"{lock.get('owner') or 'Someone'} is training {lock.get('model')}{progress}. One training at a time: try again when it finishes."


def progress_text(status: dict) -> str:
    """The progress bar's words: never 'epoch None of None' before the first batch."""
    if status.get("state") == "starting" or status.get("batch") is None:
        return "starting: loading the data and building the model"
    fold = f", fold {status['fold']} of {status['folds']}" if status.get("fold") else ""
    phase = f" ({status['phase']})" if status.get("phase") else ""
    eta = status.get("eta_seconds")
    return (
        f"epoch {status.get('epoch')} of {status.get('epochs')}, batch {status.get('batch')} "
        f"of {status.get('batches')}{fold}{phase}" + (f", about {eta:.0f} s left" if eta else "")
    )


def start_job(model: str, options: dict[str, Any], actor: Actor, *, resume: bool = False) -> dict:
    """Start a training process for `actor`; raise JobBusy if one is running. Returns the
    initial status. The lock and the run's manifest keep the actor's name and id: they are
    told it is their own run, and may cancel it and delete it. `resume`: continue the
    model's newest interrupted run instead (its own settings; `options` are ignored)."""
    owner, session = actor.name or "someone", actor.id
    get_spec(model)  # unknown names and impossible settings fail here, not in the background
    if resume:
        options = newest_interrupted(model).run["options"]  # NothingToResume when none
    TrainOptions.from_dict(options)
    cache_dir().mkdir(parents=True, exist_ok=True)
    job = {"model": model, "options": options, "owner": owner, "session": session,
           "started": time.time(), "resume": resume}  # fmt: skip
    # Take the lock here, before the child starts: a second click during the seconds the
    # child spends importing TensorFlow must already find it taken.
    _create_lock({"pid": os.getpid(), "owner": job["owner"], "model": model, "since": time.time(),
                  "session": session})  # fmt: skip
    _path(CANCEL_FILE).unlink(missing_ok=True)
    try:
        log = open(cache_dir() / "training.log", "wb")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            [sys.executable, "-m", "fmnist_core.training.jobs", json.dumps(job)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent.parent),
                                                              os.environ.get("PYTHONPATH", "")])},
        )  # fmt: skip
        log.close()
    except BaseException:
        _path(LOCK_FILE).unlink(missing_ok=True)
        raise
    _CHILDREN.append(proc)
    _write_json(
        _path(LOCK_FILE),
        {"pid": proc.pid, "owner": job["owner"], "model": model, "since": time.time(),
         "session": session},
    )  # fmt: skip
    status = {**job, "pid": proc.pid, "state": "starting", "fraction": 0.0, "history": [],
              "updated": time.time()}  # fmt: skip
    _write_json(_path(STATUS_FILE), status)
    return status


def interrupted(model: str) -> list[Interrupted]:
    """The model's interrupted runs, newest first (what the Train page offers to resume)."""
    return interrupted_runs(model)


def may_cancel(actor: Actor, lock: dict | None) -> bool:
    """The teacher cancels any training; anyone else the one they started."""
    return lock is not None and may_manage(actor, lock.get("session"))


def cancel_job(*, actor: Actor) -> None:
    """Ask the running job to stop (between batches); NotAllowed when `actor` may not."""
    lock = read_lock()
    if lock is None:
        return
    if not may_cancel(actor, lock):
        raise NotAllowed(TEACHER_ONLY["cancel_training"])
    _path(CANCEL_FILE).touch()


# --------------------------------------------------------------------------- the job process


def _create_lock(lock: dict) -> None:
    """Create the lock file atomically (O_EXCL); clear a stale one once; else JobBusy."""
    for _ in range(2):
        try:
            fd = os.open(_path(LOCK_FILE), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            recover_stale_lock()
            if read_lock() is None:  # it was stale: cleared, try once more
                continue
            raise JobBusy(busy_message(_read_json(_path(LOCK_FILE)) or {}, read_status())) from None
        with os.fdopen(fd, "w") as f:
            json.dump(lock, f)
        return
    raise JobBusy("could not take the training lock")


def _take_lock(job: dict) -> None:
    """In the job process: the lock start_job took for us, or a fresh one if run directly."""
    for _ in range(50):  # start_job writes our pid into its lock right after starting us
        lock = _read_json(_path(LOCK_FILE))
        if lock is not None and lock.get("pid") == os.getpid():
            return
        if lock is None or lock.get("pid") != os.getppid():
            break
        time.sleep(0.1)
    _create_lock({"pid": os.getpid(), "owner": job["owner"], "model": job["model"],
                  "since": time.time(), "session": job.get("session", "")})  # fmt: skip


def run_job(job: dict) -> int:
    _take_lock(job)
    status = {**job, "pid": os.getpid(), "state": "running", "fraction": 0.0, "history": [],
              "device": device_description(), "updated": time.time()}  # fmt: skip
    if job.get("resume"):  # the curves start with the epochs done before the interruption
        with contextlib.suppress(FmnistError):
            status["history"] = newest_interrupted(job["model"]).history
    _write_json(_path(STATUS_FILE), status)
    last_write = 0.0
    last_check = 0.0
    cancelled = False
    run_start = time.time()

    def progress(event: ProgressEvent) -> None:
        nonlocal last_write
        kind = event["event"]
        if kind == "batch":
            done = event["fraction"]  # of the whole run, k folds included (run.run_training)
            status.update(epoch=event["epoch"], epochs=event["epochs"], batch=event["batch"],
                          batches=event["batches"], fold=event.get("fold"),
                          folds=event.get("folds", 0), phase=event["phase"], fraction=done,
                          logs=event["logs"])  # fmt: skip
            elapsed = time.time() - run_start
            status["eta_seconds"] = elapsed / done * (1 - done) if done > 0.02 else None
        elif kind == "epoch" and not event.get("fold"):
            status["history"].append(event["logs"])
        elif kind in ("evaluate", "save"):
            status["phase"] = "evaluating" if kind == "evaluate" else "saving"
        now = time.time()
        if kind != "batch" or now - last_write > 0.5:
            status["updated"] = now
            _write_json(_path(STATUS_FILE), status)
            last_write = now

    def should_stop() -> bool:
        nonlocal last_check, cancelled
        now = time.time()
        if now - last_check > 0.2:
            last_check = now
            cancelled = _path(CANCEL_FILE).exists()
        return cancelled

    try:
        if job.get("resume"):  # the run keeps its settings and who started it
            art = resume_training(job["model"], progress=progress, should_stop=should_stop)
        else:
            opts = TrainOptions.from_dict(
                {**job["options"], "started_by": job["owner"], "via": "app",
                 "session": job.get("session", "")}
            )  # fmt: skip
            art = run_training(job["model"], opts, progress=progress, should_stop=should_stop)
        status.update(state="finished", fraction=1.0, artifact=str(art.path), version=art.version,
                      test_accuracy=art.manifest["test_accuracy"],
                      training_seconds=art.manifest["training_seconds"])  # fmt: skip
        code = 0
    except TrainingCancelled:
        status.update(state="cancelled")
        code = 0
    except FmnistError as e:
        status.update(state="failed", error=str(e))
        code = 1
    except Exception as e:  # reported to the page as one sentence; the log has the details
        status.update(state="failed", error=f"{type(e).__name__}: {e}")
        code = 1
    finally:
        status["updated"] = time.time()
        _write_json(_path(STATUS_FILE), status)
        _path(CANCEL_FILE).unlink(missing_ok=True)
        _path(LOCK_FILE).unlink(missing_ok=True)
    return code


def default_options(model: str) -> dict[str, Any]:
    """Settings that finish in about a minute on a CPU: a subset, few epochs."""
    spec = get_spec(model)
    recipe = spec.recipe
    if spec.assembled:  # the ensemble fits nothing: it chooses among the models in use
        return {**asdict(TrainOptions()), "batch_size": recipe.batch_size}
    if recipe.init_from:  # fine-tuning: one epoch on the split its starting model held out
        return {**asdict(TrainOptions()), "epochs": 0, "augment_epochs": 1,
                "batch_size": recipe.batch_size, "kfold": 0, "limit": None}  # fmt: skip
    # a recipe that trains only on augmented images keeps that phase, shortened
    augment = 0 if recipe.epochs else min(recipe.augment_epochs, 3)
    return {**asdict(TrainOptions()), "epochs": min(recipe.epochs, 5), "augment_epochs": augment,
            "batch_size": recipe.batch_size, "kfold": 0, "limit": 10_000}  # fmt: skip


if __name__ == "__main__":
    sys.exit(run_job(json.loads(sys.argv[1])))
