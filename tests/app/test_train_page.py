"""Training from the app: background jobs, one at a time, cancel, stale locks, the Train page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import wait_for_job
from streamlit.testing.v1 import AppTest

from fmnist_core.roles import MACHINE_OWNER, Actor
from fmnist_core.training import jobs as train_jobs
from fmnist_core.versions import get_version, user_version_ids
from fmnist_core.versions.catalog import model_catalog

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "train.py")
pytestmark = pytest.mark.slow  # background training jobs: a minute or more each


@pytest.fixture()
def job_cache(real_dataset, isolated_cache):
    """An empty cache folder holding only the converted dataset (so jobs start quickly)."""
    from fmnist_core.data.fashion_mnist import load_dataset

    load_dataset()
    yield isolated_cache
    lock = train_jobs.read_lock()
    if lock is not None:  # never leave a job running after a test
        train_jobs.cancel_job(actor=MACHINE_OWNER)
        wait_for_job(120)


def quick(**kw):
    return {**train_jobs.default_options("baseline"), "epochs": 1, "limit": 1000, **kw}


def test_train_page_runs_a_job_to_the_end_and_the_model_appears(job_cache):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    at.selectbox(key="train_model").set_value("twoconv").run()
    at.number_input[0].set_value(1)
    at.select_slider[1].set_value(1000)
    at.text_input(key="train_owner").set_value("Ms Lovelace")
    at.button[0].click().run()
    assert not at.exception
    assert "Your training of twoconv is running" in at.info[0].value  # told it is theirs
    status = wait_for_job(180)
    assert status["state"] == "finished", status
    assert status["history"] and status["device"] == "CPU"
    at.run()
    assert "**twoconv** finished (Ms Lovelace)" in at.success[0].value
    row = next(r for r in model_catalog() if r["name"] == "twoconv")
    assert row["status"] == "shipped"  # a run is a new version, used once someone chooses it
    run = next(v for v in row["versions"] if v["id"] == status["version"])
    assert run["origin"] == "user" and not run["active"]
    assert run["test_accuracy"] == pytest.approx(status["test_accuracy"])
    assert run["started_by"] == "Ms Lovelace"


def test_a_second_job_is_refused_with_who_and_how_far(job_cache):
    train_jobs.start_job(
        "baseline", quick(epochs=3), actor=Actor("first user", "student", "first-id")
    )
    with pytest.raises(train_jobs.JobBusy, match="first user is training baseline"):
        train_jobs.start_job("cnn1", quick(), actor=Actor("second user", "student", "second-id"))
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert "first user is training baseline" in at.info[0].value
    assert at.button[0].disabled  # the start button, while someone else trains
    assert wait_for_job(180)["state"] == "finished"


def test_cancel_stops_the_job_and_saves_nothing(job_cache):
    train_jobs.start_job(
        "baseline",
        quick(epochs=50, limit=10000),
        actor=Actor("canceller", "student", "canceller-id"),
    )
    import time

    deadline = time.time() + 120
    while (train_jobs.read_status() or {}).get("batch") is None and time.time() < deadline:
        time.sleep(0.3)  # wait until it is really training
    train_jobs.cancel_job(actor=MACHINE_OWNER)
    status = wait_for_job(60)
    assert status["state"] == "cancelled"
    assert status["epoch"] < 50
    assert user_version_ids("baseline") == []
    assert train_jobs.read_lock() is None


def test_a_stale_lock_from_a_dead_process_is_recovered(job_cache):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (job_cache / train_jobs.LOCK_FILE).write_text(
        json.dumps({"pid": dead.pid, "owner": "ghost", "model": "cnn4"})
    )
    (job_cache / train_jobs.STATUS_FILE).write_text(
        json.dumps({"pid": dead.pid, "state": "running", "model": "cnn4"})
    )
    assert train_jobs.read_lock() is None  # a dead owner's lock does not count...
    assert train_jobs.read_status()["state"] == "failed"  # ...its job reads as failed...
    assert (job_cache / train_jobs.LOCK_FILE).exists()  # ...and reading changed nothing on disk
    train_jobs.recover_stale_lock()
    assert not (job_cache / train_jobs.LOCK_FILE).exists()
    assert json.loads((job_cache / train_jobs.STATUS_FILE).read_text())["state"] == "failed"
    train_jobs.start_job(
        "baseline", quick(), actor=Actor("next", "student", "next-id")
    )  # and a new job can start
    assert wait_for_job(180)["state"] == "finished"


def test_a_crashed_job_releases_its_lock(job_cache):
    train_jobs.start_job(
        "baseline", quick(epochs=50, limit=10000), actor=Actor("crash", "student", "crash-id")
    )
    import signal
    import time

    deadline = time.time() + 120
    while (train_jobs.read_status() or {}).get("state") != "running" and time.time() < deadline:
        time.sleep(0.3)
    os.kill(train_jobs.read_status()["pid"], signal.SIGKILL)
    status = wait_for_job(60)
    assert status["state"] == "failed" and "stopped unexpectedly" in status["error"]
    assert train_jobs.read_lock() is None
    assert user_version_ids("baseline") == []


@pytest.mark.browser
def test_train_in_a_real_browser(streamlit_url, page):
    """Against the server's own cache folder (the session's), as a user would."""
    page.goto(streamlit_url + "/train", wait_until="domcontentloaded")
    page.get_by_role("button", name="Start training").wait_for(timeout=90_000)
    page.get_by_label("Epochs", exact=True).fill("2")
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Your training of").first.wait_for(timeout=60_000)
    page.get_by_text("epoch 2 of 2").wait_for(timeout=120_000)  # live progress
    from playwright.sync_api import expect

    done = page.get_by_text("Saved as version")
    # The page reruns once when the job ends: for a moment the old message and the new one
    # are both on screen; it settles to one.
    done.first.wait_for(timeout=120_000)
    expect(done).to_have_count(1, timeout=15_000)
    assert page.locator("[data-testid='stException']").count() == 0
    status = wait_for_job(10)
    assert status["state"] == "finished"
    import shutil

    shutil.rmtree(status["artifact"])  # later tests expect the shipped models only


def test_the_ensemble_is_assembled_from_the_models_in_use(job_cache):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.selectbox(key="train_model").set_value("ensemble").run()
    assert not at.exception
    assert not at.number_input and "Nothing is trained" in at.info[0].value  # nothing to set
    at.text_input(key="train_owner").set_value("Mr Babbage")
    next(b for b in at.button if b.label == "Assemble").click().run()
    assert not at.exception
    status = wait_for_job(300)
    assert status["state"] == "finished", status
    manifest = get_version("ensemble", status["version"]).manifest
    # chosen among the shipped models that held out the validation split, never the others
    assert len(manifest["members"]) >= 2
    assert not set(manifest["members"]) & {"strided3", "baseline", "twoconv"}
    assert manifest["member_selection"]["not_candidates"]["baseline"].startswith("trained on all")


def test_robust_fine_tunes_the_resnet_in_use_on_the_split_it_held_out(job_cache):
    """robust starts from resnet's weights: the page says so, its quick default keeps every
    training image (the shipped resnet's split), and a smaller subset, on which resnet's
    training images would be validation images, is refused in one sentence."""
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.selectbox(key="train_model").set_value("robust").run()
    assert not at.exception
    assert any("starts from **resnet**'s trained weights" in i.value for i in at.info)
    assert at.select_slider[1].value == 60000 and at.number_input[1].value == 1
    at.select_slider[1].set_value(10000)
    next(b for b in at.button if b.label == "Start training").click().run()
    status = wait_for_job(180)
    assert status["state"] == "failed" and "trained on a different subset" in status["error"]
    at.run()
    assert any("Training of **robust** failed" in e.value for e in at.error)
