"""Faults: damaged or missing files give a clear message and a way out; nothing is lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import wait_for_job
from streamlit.testing.v1 import AppTest

from fmnist_core import versions as fa
from fmnist_core.roles import MACHINE_OWNER, Actor
from fmnist_core.training import jobs as train_jobs
from fmnist_core.versions import ArtifactError, find_artifact, load_artifact

ROOT = Path(__file__).resolve().parents[2]


def test_model_names_cannot_leave_the_model_folders(tmp_path):
    for bad in ("../../etc", "/etc/passwd", "..", "a/b", ""):
        with pytest.raises(ArtifactError, match="not a model name"):
            load_artifact(bad, tmp_path, "user")


@pytest.fixture()
def user_copy(tmp_path, monkeypatch):
    """A user-trained copy of the shipped strided3, in a private cache."""
    monkeypatch.setenv("FMNIST_CACHE_DIR", str(tmp_path / "cache"))
    from fmnist_core import versions

    src = fa.shipped_models_dir() / "strided3"
    dst = versions.versions_dir("strided3") / "20261129-000000-copy"
    dst.parent.mkdir(parents=True)
    shutil.copytree(src, dst)
    versions.activate("strided3", dst.name, actor=MACHINE_OWNER)  # the version every page uses
    return dst


def test_a_corrupt_model_file_is_reported_with_how_to_retrain(user_copy):
    model = user_copy / "model.keras"
    raw = bytearray(model.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    model.write_bytes(bytes(raw))
    art = find_artifact("strided3")
    with pytest.raises(ArtifactError, match="retrain strided3"):
        art.load_model()
    model.write_bytes(bytes(raw[:1000]))  # and truncated: reported before any load
    assert fa.artifact_status("strided3")[0] == "corrupt"
    at = AppTest.from_file(str(ROOT / "pages" / "models.py"), default_timeout=120).run()
    assert not at.exception
    assert any("python -m fmnist_core train strided3" in e.value for e in at.error)


def test_a_deleted_probability_file_is_reported_on_the_pages(user_copy, real_dataset):
    (user_copy / "test_probs.npy").unlink()
    at = AppTest.from_file(str(ROOT / "pages" / "confusion.py"), default_timeout=120).run()
    assert not at.exception
    assert any("strided3" in w.value and "damaged" in w.value for w in at.warning)


@pytest.mark.slow
def test_kill_during_training_keeps_the_previous_model(user_copy, real_dataset):
    before = json.loads((user_copy / "manifest.json").read_text())
    from fmnist_core.data.fashion_mnist import load_dataset

    load_dataset()
    train_jobs.start_job(
        "strided3",
        {**train_jobs.default_options("strided3"), "epochs": 30, "limit": 10000},
        Actor("k", "student", "k-id"),
    )
    deadline = time.time() + 120
    while (train_jobs.read_status() or {}).get("batch") is None and time.time() < deadline:
        time.sleep(0.3)
    os.kill(train_jobs.read_status()["pid"], signal.SIGKILL)
    assert wait_for_job(60)["state"] == "failed"
    art = find_artifact("strided3")
    assert art.manifest["created_utc"] == before["created_utc"]
    probs = art.load_model().predict(
        real_dataset.x_test[:10].reshape(-1, 28, 28, 1).astype(np.float32), verbose=0
    )
    assert probs.shape == (10, 10)
    train_jobs.start_job(
        "strided3",
        {**train_jobs.default_options("strided3"), "epochs": 1, "limit": 1000},
        Actor("next", "student", "next-id"),
    )
    status = wait_for_job(180)
    assert status["state"] == "finished"  # and the next run recovers
    run = fa.get_version("strided3", status["version"])  # kept as theirs: they may delete it
    assert run.manifest["started_by"] == {"name": "next", "via": "app", "session": "next-id"}
    assert fa.run_owner_id(run.manifest) == "next-id"
