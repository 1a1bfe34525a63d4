"""Training that survives a restart: a run killed with SIGKILL after a checkpoint is listed as
interrupted and `train MODEL --resume` finishes it, as one run (real data, a small subset)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli

from fmnist_core.training.checkpoint import CHECKPOINT_FILE, PREFIX, interrupted_runs
from fmnist_core.versions import list_versions, user_version_ids, versions_dir

ROOT = Path(__file__).resolve().parents[2]
MODEL = "twoconv"
# 3 plain + 3 augmented epochs on 1,000 images: a few seconds an epoch on a CPU
SETTINGS = ["--epochs", "3", "--augment-epochs", "3", "--limit", "1000", "--batch-size", "64",
            "--seed", "1"]  # fmt: skip
EPOCHS = 6


def _checkpoints(cache: Path) -> list[Path]:
    return sorted((cache / "versions" / MODEL).glob(f"{PREFIX}*/{CHECKPOINT_FILE}"))


def _kill_after_first_checkpoint(cache: Path) -> float:
    """Start a training run, SIGKILL it as soon as its first epoch is saved; its seconds."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fmnist_core", "train", MODEL, *SETTINGS],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.time() + 240
        while not _checkpoints(cache):
            assert proc.poll() is None, "the run ended before its first checkpoint"
            assert time.time() < deadline, "no checkpoint within 4 minutes"
            time.sleep(0.05)
    finally:
        proc.kill()  # SIGKILL: no handler runs, as in a crash or a reboot
        proc.wait()
    return time.perf_counter() - start


def _manifest(cache: Path, version: str) -> dict:
    return json.loads((cache / "versions" / MODEL / version / "manifest.json").read_text())


@pytest.mark.slow
def test_a_killed_run_is_listed_and_resume_finishes_it_as_one_run(
    real_dataset, isolated_cache, capsys
):
    killed_after = _kill_after_first_checkpoint(isolated_cache)

    # listed as interrupted, never as a version
    runs = interrupted_runs(MODEL)
    assert len(runs) == 1
    k = runs[0].epoch
    assert 1 <= k < EPOCHS and runs[0].epochs == EPOCHS
    assert user_version_ids(MODEL) == [] and all(
        v.origin == "shipped" for v in list_versions(MODEL)
    )
    listed = run_cli("train", MODEL, "--interrupted", check=True)
    assert f"interrupted at epoch {k} of {EPOCHS}" in listed.stdout
    as_json = json.loads(run_cli("train", MODEL, "--interrupted", "--json", check=True).stdout)
    assert [(r["epoch"], r["epochs"]) for r in as_json] == [(k, EPOCHS)]
    # and `list` names it, with the command that continues it
    catalog = json.loads(run_cli("list", "--json", check=True).stdout)
    row = next(r for r in catalog if r["name"] == MODEL)
    assert [(r["epoch"], r["epochs"]) for r in row["interrupted"]] == [(k, EPOCHS)]
    assert f"train {MODEL} --resume" in run_cli("list", check=True).stdout

    # a resume with settings of its own is refused in one line
    refused = run_cli("train", MODEL, "--resume", "--epochs", "2")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1

    t0 = time.perf_counter()
    resumed = run_cli("train", MODEL, "--resume", timeout=600)
    resumed_seconds = time.perf_counter() - t0
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resumed after epoch {k}" in resumed.stdout

    (version,) = user_version_ids(MODEL)
    m = _manifest(isolated_cache, version)
    assert [row["epoch"] for row in m["history"]] == list(range(1, EPOCHS + 1))
    assert [row["phase"] for row in m["history"]] == ["plain"] * 3 + ["augment"] * 3
    assert [r["at_epoch"] for r in m["resumed"]] == [k] and m["resumed"][0]["utc"]
    assert m["recipe"]["epochs"] == 3 and m["recipe"]["augment_epochs"] == 3
    assert m["limit"] == 1000 and m["seed"] == 1 and m["recipe"]["batch_size"] == 64
    assert _checkpoints(isolated_cache) == [] and interrupted_runs(MODEL) == []
    assert not list(versions_dir(MODEL).glob(f"{PREFIX}*"))
    # a normal version: listed, loadable
    rows = {r["name"]: r for r in json.loads(run_cli("list", "--json", check=True).stdout)}
    assert version in [v["id"] for v in rows[MODEL]["versions"]]
    assert run_cli("evaluate", f"{MODEL}@{version}", "--json").returncode == 0

    # the same run uninterrupted: the same accuracy within noise; it keeps no checkpoint
    t0 = time.perf_counter()
    fresh = run_cli("train", MODEL, *SETTINGS, timeout=600)
    fresh_seconds = time.perf_counter() - t0
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert _checkpoints(isolated_cache) == []
    other = [v for v in user_version_ids(MODEL) if v != version]
    m_fresh = _manifest(isolated_cache, other[0])
    assert "resumed" not in m_fresh
    assert abs(m_fresh["test_accuracy"] - m["test_accuracy"]) < 0.08, (m_fresh, m)
    with capsys.disabled():
        print(
            f"\n[resume timing] fresh run {fresh_seconds:.1f} s; killed after "
            f"{killed_after:.1f} s at epoch {k}, resumed in {resumed_seconds:.1f} s; "
            f"accuracy fresh {m_fresh['test_accuracy']:.4f} resumed {m['test_accuracy']:.4f}"
        )


def test_resume_with_nothing_to_resume_says_so_in_one_line(isolated_cache):
    out = run_cli("train", MODEL, "--resume")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "no interrupted run" in lines[0], out.stderr


def test_a_dead_run_that_never_finished_an_epoch_is_not_listed(isolated_cache):
    folder = versions_dir(MODEL) / f"{PREFIX}20260101-000000-abcd"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"pid": 2**22 + 7, "host": socket.gethostname()}))
    assert interrupted_runs(MODEL) == [] and not folder.exists()
    assert user_version_ids(MODEL) == []


def test_start_job_with_nothing_to_resume_refuses_before_taking_the_lock(isolated_cache):
    from fmnist_core.roles import MACHINE_OWNER
    from fmnist_core.training import jobs
    from fmnist_core.training.checkpoint import NothingToResume

    with pytest.raises(NothingToResume, match="no interrupted run"):
        jobs.start_job(MODEL, {}, MACHINE_OWNER, resume=True)
    assert jobs.read_lock() is None and not (isolated_cache / jobs.LOCK_FILE).exists()


@pytest.mark.slow
def test_the_train_page_shows_an_interrupted_run_and_resumes_it(real_dataset, isolated_cache):
    from conftest import wait_for_job
    from streamlit.testing.v1 import AppTest

    from fmnist_core.roles import MACHINE_OWNER
    from fmnist_core.training import jobs

    _kill_after_first_checkpoint(isolated_cache)
    k = interrupted_runs(MODEL)[0].epoch
    try:
        at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=120).run()
        at.selectbox(key="train_model").set_value(MODEL).run()
        assert not at.exception
        assert any(f"interrupted at epoch **{k} of {EPOCHS}**" in w.value for w in at.warning)
        at.button(key="train_resume").click().run()
        assert not at.exception
        status = wait_for_job(240)
        assert status["state"] == "finished", status
    finally:
        if jobs.read_lock() is not None:  # never leave a job running after a test
            jobs.cancel_job(actor=MACHINE_OWNER)
            wait_for_job(120)
    m = _manifest(isolated_cache, status["version"])
    assert [row["epoch"] for row in m["history"]] == list(range(1, EPOCHS + 1))
    assert [r["at_epoch"] for r in m["resumed"]] == [k]
    assert interrupted_runs(MODEL) == [] and _checkpoints(isolated_cache) == []
