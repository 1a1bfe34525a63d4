"""Training that survives a restart, timed: a run killed with SIGKILL after half its epochs
and resumed (`train MODEL --resume`) against the same run uninterrupted, on the full training
split, through the CLI as a user runs it.

Reports the wall time of the uninterrupted run, of the killed part and of the resumed part
(goal: the resumed part well under the uninterrupted run: it does not start over), and both
runs' test accuracy with the uninterrupted one's 95% interval (goal: the resumed run's inside
it, within noise).

    python bench/bench_resume.py            # cnn1, 8 epochs, killed after epoch 4
    MODEL=twoconv EPOCHS=6 python bench/bench_resume.py
"""

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODEL = os.environ.get("MODEL", "cnn1")
EPOCHS = int(os.environ.get("EPOCHS", 8))
KILL_AT = EPOCHS // 2
ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ["--epochs", str(EPOCHS), "--augment-epochs", "0", "--seed", "3"]

os.environ["FMNIST_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-resume-")
from fmnist_core.training.checkpoint import (  # noqa: E402
    CHECKPOINT_FILE,
    PREFIX,
    _read_state,
    interrupted_runs,
)
from fmnist_core.versions import list_versions  # noqa: E402


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fmnist_core", *args], cwd=ROOT,
                          capture_output=True, text=True, check=True)  # fmt: skip


def epochs_saved() -> int:
    """The epochs the in-progress run of MODEL has checkpointed (0: none yet)."""
    found = sorted((Path(os.environ["FMNIST_CACHE_DIR"]) / "versions" / MODEL).glob(
        f"{PREFIX}*/{CHECKPOINT_FILE}"))  # fmt: skip
    state = _read_state(found[-1]) if found else None
    return int(state["epoch"]) if state else 0


def newest_version() -> dict:
    versions = [v for v in list_versions(MODEL) if v.origin == "user"]
    return max(versions, key=lambda v: v.id).manifest


start = time.perf_counter()
cli("train", MODEL, *SETTINGS)
fresh_s = time.perf_counter() - start
fresh = newest_version()

start = time.perf_counter()
proc = subprocess.Popen([sys.executable, "-m", "fmnist_core", "train", MODEL, *SETTINGS],
                        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
while proc.poll() is None:
    if epochs_saved() >= KILL_AT:
        break
    time.sleep(0.2)
proc.kill()  # SIGKILL, as a crash or a reboot
proc.wait()
killed_s = time.perf_counter() - start
(found,) = interrupted_runs(MODEL)

start = time.perf_counter()
cli("train", MODEL, "--resume")  # with the settings it started with
resumed_s = time.perf_counter() - start
resumed = newest_version()

acc_f, acc_r = fresh["test_accuracy"], resumed["test_accuracy"]
half = 1.96 * math.sqrt(acc_f * (1 - acc_f) / 10_000)
history = resumed["history"]
print(f"{MODEL}, {EPOCHS} epochs on the full training split, {fresh['backend']} on "
      f"{fresh['device']}")  # fmt: skip
print(f"uninterrupted run: {fresh_s:.0f} s, test accuracy {acc_f:.2%} "
      f"(95% interval {acc_f - half:.2%}-{acc_f + half:.2%})")  # fmt: skip
print(f"killed with SIGKILL at epoch {found.epoch} of {found.epochs} after {killed_s:.0f} s; "
      f"resumed in {resumed_s:.0f} s ({resumed_s / fresh_s:.0%} of the uninterrupted run; "
      f"killed + resumed {killed_s + resumed_s:.0f} s)")  # fmt: skip
print(f"resumed run: test accuracy {acc_r:.2%}, {len(history)} epochs in its history, "
      f"manifest 'resumed': {resumed.get('resumed')}")  # fmt: skip
ok = resumed_s < 0.75 * fresh_s and abs(acc_r - acc_f) <= half and len(history) == EPOCHS
print(f"resumed part well under a fresh run, accuracy within noise, one history: "
      f"{'OK' if ok else 'FAIL'}")  # fmt: skip
