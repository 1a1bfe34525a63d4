"""Versions: every run is a version, the shipped one stays, one version per model is active."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import click_settled, run_cli, wait_for_job
from streamlit.testing.v1 import AppTest

from fmnist_core import versions
from fmnist_core.roles import MACHINE_OWNER, PASSWORD_ENV, STUDENT, Actor
from fmnist_core.training import jobs as train_jobs
from fmnist_core.training.run import TrainOptions, run_training
from fmnist_core.ui.identity import ACTOR
from fmnist_core.versions import ArtifactError, find_artifact, shipped_models_dir
from fmnist_core.versions.catalog import model_catalog

ROOT = Path(__file__).resolve().parents[2]
QUICK = TrainOptions(epochs=1, limit=1000)


def shipped_accuracy(name: str) -> float:
    return json.loads((shipped_models_dir() / name / "manifest.json").read_text())["test_accuracy"]


@pytest.fixture()
def one_run(real_dataset, isolated_cache):
    """A fresh cache and one quick run of twoconv (1 epoch on 1,000 images)."""
    art = run_training("twoconv", QUICK)
    return art


@pytest.mark.slow
def test_a_run_is_a_new_version_and_the_shipped_one_stays_in_use(one_run):
    assert one_run.origin == "user" and one_run.version not in ("", versions.SHIPPED)
    assert one_run.path.parent == versions.versions_dir("twoconv")
    # nothing changed for anyone: the shipped version is still the one in use
    in_use = find_artifact("twoconv")
    assert in_use.version == versions.SHIPPED
    out = run_cli("evaluate", "twoconv", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["version"] == "shipped"
    assert report["test_accuracy"] == pytest.approx(shipped_accuracy("twoconv"), abs=1e-4)
    # made active on request, it is what evaluate (and every page) uses
    out = run_cli("activate", "twoconv", one_run.version)
    assert out.returncode == 0 and "is active" in out.stdout, out.stderr
    report = json.loads(run_cli("evaluate", "twoconv", "--json").stdout)
    assert report["version"] == one_run.version
    # evaluate recomputes in float32; the manifest scored the stored float16 probabilities
    assert report["test_accuracy"] == pytest.approx(one_run.manifest["test_accuracy"], abs=2e-3)
    assert report["test_accuracy"] < shipped_accuracy("twoconv") - 0.3  # 1 epoch: far worse
    # and the shipped version comes back on request
    assert run_cli("activate", "twoconv", "shipped").returncode == 0
    assert find_artifact("twoconv").version == versions.SHIPPED


@pytest.mark.slow
def test_list_json_gives_every_version(one_run):
    out = run_cli("list", "--json")
    assert out.returncode == 0, out.stderr
    row = next(r for r in json.loads(out.stdout) if r["name"] == "twoconv")
    assert [v["id"] for v in row["versions"]] == ["shipped", one_run.version]
    shipped, run = row["versions"]
    assert shipped["origin"] == "shipped" and shipped["active"] is True
    assert run["origin"] == "user" and run["active"] is False
    assert run["test_accuracy"] == pytest.approx(one_run.manifest["test_accuracy"])
    assert run["created_utc"] == one_run.manifest["created_utc"]
    assert run["changes"] == "1 epoch instead of 50, on 1,000 images"
    assert {"id", "origin", "test_accuracy", "active", "created_utc"} <= set(shipped)
    # a model with no run has its shipped version only
    other = next(r for r in json.loads(out.stdout) if r["name"] == "cnn1")
    assert [v["id"] for v in other["versions"]] == ["shipped"]


@pytest.mark.slow
def test_two_runs_are_two_versions_and_delete_removes_only_one(one_run):
    second = run_training("twoconv", QUICK)
    ids = [v.id for v in versions.list_versions("twoconv")]
    assert ids == ["shipped", one_run.version, second.version]
    versions.activate("twoconv", second.version, actor=MACHINE_OWNER)
    versions.delete_version("twoconv", second.version, actor=MACHINE_OWNER)  # shipped again
    assert [v.id for v in versions.list_versions("twoconv")] == ["shipped", one_run.version]
    assert find_artifact("twoconv").version == versions.SHIPPED
    assert find_artifact(f"twoconv@{one_run.version}").load_model() is not None
    assert (shipped_models_dir() / "twoconv" / "model.keras").is_file()


@pytest.mark.slow
def test_unknown_versions_and_the_shipped_one_are_refused_clearly(one_run):
    out = run_cli("activate", "twoconv", "20990101-000000-dead")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"error: twoconv has no version '20990101-000000-dead' (its versions: shipped, "
        f"{one_run.version})"
    )
    out = run_cli("delete", "twoconv", "shipped")
    assert out.returncode == 2
    assert out.stderr.strip() == "error: The shipped version of twoconv cannot be deleted."
    out = run_cli("evaluate", "twoconv@nope")
    assert out.returncode == 2 and "has no version 'nope'" in out.stderr
    with pytest.raises(ArtifactError, match="not a version id"):
        versions.activate("twoconv", "../../etc", actor=MACHINE_OWNER)


@pytest.mark.slow
def test_model_at_version_works_in_predict_and_embed(one_run, tmp_path, real_dataset):
    from PIL import Image

    image = tmp_path / "boot.png"
    Image.fromarray(255 - real_dataset.x_test[0]).resize((112, 112)).save(image)
    out = run_cli("predict", str(image), "--model", f"twoconv@{one_run.version}", "--json")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)[0]["models"]["twoconv"]
    shipped = json.loads(run_cli("predict", str(image), "--model", "twoconv", "--json").stdout)
    # the quick run and the shipped version are different networks
    assert answer["probabilities"] != shipped[0]["models"]["twoconv"]["probabilities"]
    csv = tmp_path / "e.csv"
    out = run_cli(
        "embed", "--source", f"twoconv@{one_run.version}", "--n", "1000", "--out", str(csv)
    )
    assert out.returncode == 0, out.stderr
    assert csv.read_text().splitlines()[0].endswith("predicted,confidence")


@pytest.mark.slow
def test_concurrent_activations_leave_one_whole_choice(one_run):
    script = (
        "import sys\n"
        "from fmnist_core import versions\n"
        "from fmnist_core.roles import MACHINE_OWNER\n"
        "for _ in range(40):\n"
        "    versions.activate('twoconv', sys.argv[1], actor=MACHINE_OWNER)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, v], cwd=ROOT)
        for v in [one_run.version, "shipped"] * 3
    ]
    assert all(p.wait(120) == 0 for p in procs)
    chosen = json.loads((versions.versions_dir("twoconv") / versions.ACTIVE_FILE).read_text())
    assert chosen["version"] in (one_run.version, "shipped")
    assert sum(v.active for v in versions.list_versions("twoconv")) == 1
    leftovers = [p.name for p in versions.versions_dir("twoconv").iterdir() if p.name[0] == "."]
    assert leftovers == []  # no temporary file left behind


def test_a_folder_from_before_versions_is_read_as_one_user_version(isolated_cache):
    old = isolated_cache / "models" / "strided3"
    shutil.copytree(shipped_models_dir() / "strided3", old)
    manifest = json.loads((old / "manifest.json").read_text())
    found = versions.list_versions("strided3")
    assert [v.origin for v in found] == ["shipped", "user"]
    legacy = found[1]
    assert legacy.manifest["created_utc"] == manifest["created_utc"]
    assert legacy.id.startswith(manifest["created_utc"][:10].replace("-", ""))
    assert not old.exists()  # moved, not copied: nothing is read twice
    assert find_artifact("strided3").version == versions.SHIPPED
    assert find_artifact(legacy.ref).load_model() is not None


@pytest.mark.slow
def test_models_page_switches_versions(one_run, monkeypatch):
    at = AppTest.from_file(str(ROOT / "pages" / "models.py"), default_timeout=120).run()
    assert not at.exception
    assert any("twoconv" in e.label and "in use: shipped" in e.label for e in at.expander)
    at.selectbox(key="version_pick_twoconv").set_value(one_run.version).run()
    at.button(key="version_use_twoconv").click().run()
    assert not at.exception
    assert find_artifact("twoconv").version == one_run.version
    row = next(r for r in model_catalog() if r["name"] == "twoconv")
    assert row["status"] == "trained" and row["version"] == one_run.version
    # the other pages name the version they show
    at = AppTest.from_file(str(ROOT / "pages" / "predict.py"), default_timeout=120).run()
    assert any(one_run.version in i.value and "twoconv" in i.value for i in at.info)
    # on your own copy (personal mode) you are the teacher: any run can be deleted
    at = AppTest.from_file(str(ROOT / "pages" / "models.py"), default_timeout=120).run()
    at.selectbox(key="version_pick_twoconv").set_value(one_run.version).run()
    assert [b for b in at.button if b.key == "version_delete_twoconv"]
    # in class mode a student cannot delete a run someone else started (here: the command line)
    monkeypatch.setenv(PASSWORD_ENV, "correct horse")
    at = AppTest.from_file(str(ROOT / "pages" / "models.py"), default_timeout=120)
    at.session_state[ACTOR] = Actor("Sam", STUDENT, "sams-id")
    at.run()
    at.selectbox(key="version_pick_twoconv").set_value(one_run.version).run()
    assert not [b for b in at.button if b.key == "version_delete_twoconv"]
    assert any("python -m fmnist_core delete twoconv" in c.value for c in at.caption)


@pytest.mark.slow
def test_own_run_is_deleted_from_the_page_after_confirmation(
    real_dataset, isolated_cache, monkeypatch
):
    me = "a-students-id"
    art = run_training("twoconv", TrainOptions(epochs=1, limit=1000, via="app", session=me))
    monkeypatch.setenv(PASSWORD_ENV, "correct horse")  # class mode: a student, their own run
    at = AppTest.from_file(str(ROOT / "pages" / "models.py"), default_timeout=120)
    at.session_state[ACTOR] = Actor("Sam", STUDENT, me)  # as if this person had started it
    at.run()
    at.selectbox(key="version_pick_twoconv").set_value(art.version).run()
    delete = at.button(key="version_delete_twoconv")
    assert delete.disabled  # until confirmed
    at.checkbox(key="version_sure_twoconv").check().run()
    at.button(key="version_delete_twoconv").click().run()
    assert not at.exception
    assert [v.id for v in versions.list_versions("twoconv")] == ["shipped"]


@pytest.fixture()
def job_cache(real_dataset, isolated_cache):
    from fmnist_core.data.fashion_mnist import load_dataset

    load_dataset()
    yield isolated_cache
    if train_jobs.read_lock() is not None:
        train_jobs.cancel_job(actor=MACHINE_OWNER)
        wait_for_job(120)


@pytest.mark.slow
def test_train_page_says_starting_and_shows_the_owner_their_own_run(job_cache):
    page = str(ROOT / "pages" / "train.py")
    at = AppTest.from_file(page, default_timeout=120).run()
    at.selectbox(key="train_model").set_value("twoconv").run()
    at.number_input[0].set_value(1)
    at.select_slider[1].set_value(1000)
    at.button[0].click().run()
    assert not at.exception
    assert "Your training of twoconv is running" in at.info[0].value
    assert "try again" not in at.info[0].value
    # before the first batch the bar says what is happening, never "epoch None of None"
    starting = "starting: loading the data and building the model"
    assert train_jobs.progress_text({"state": "running", "pid": 1, "history": []}) == starting
    # someone else sees who trains and is asked to wait
    other = AppTest.from_file(page, default_timeout=120).run()
    assert "is training twoconv" in other.info[0].value and "try again" in other.info[0].value
    status = wait_for_job(180)
    assert status["state"] == "finished", status
    at.run()
    assert f"Saved as version {status['version']}" in at.success[0].value
    assert any("The pages still use the shipped version" in m.value for m in at.markdown)
    assert find_artifact("twoconv").version == versions.SHIPPED  # not by itself
    at.button(key="train_use_version").click().run()
    assert find_artifact("twoconv").version == status["version"]


@pytest.mark.browser
def test_version_switch_in_a_real_browser(streamlit_url, page):
    """Against the server's own cache folder: a run appears, is made active, then removed."""
    art = run_training("baseline", QUICK)
    try:
        page.goto(streamlit_url + "/models", wait_until="domcontentloaded")
        panel = page.get_by_test_id("stExpander").filter(
            has_text=re.compile(r"baseline: \d+ versions; in use: ")
        )
        title = panel.get_by_text("in use: shipped")
        title.wait_for(timeout=90_000)
        click_settled(title)  # open the expander
        click_settled(panel.get_by_role("button", name="Use this version"))
        panel.get_by_text(f"in use: {art.version}").wait_for(timeout=60_000)
        assert page.locator("[data-testid='stException']").count() == 0
        assert find_artifact("baseline").version == art.version
        page.screenshot(path="/tmp/fmnist-versions-page.png")
    finally:
        versions.activate("baseline", "shipped", actor=MACHINE_OWNER)
        versions.delete_version("baseline", art.version, actor=MACHINE_OWNER)


@pytest.mark.slow
def test_compare_and_confusion_pages_accept_versions(one_run):
    at = AppTest.from_file(str(ROOT / "pages" / "compare.py"), default_timeout=120)
    at.query_params["models"] = f"twoconv,{one_run.ref}"  # the Models page's Compare button
    at.run()
    assert not at.exception
    assert at.multiselect(key="curve_models").value == ["twoconv", one_run.ref]
    at = AppTest.from_file(str(ROOT / "pages" / "confusion.py"), default_timeout=120).run()
    at.selectbox(key="cm_model").set_value("twoconv").run()
    at.toggle(key="cm_compare").set_value(True).run()
    at.selectbox(key="cm_other").set_value(one_run.ref).run()
    assert not at.exception
    assert any(f"twoconv right, {one_run.ref} wrong" in m.value for m in at.markdown)


def test_the_version_state_is_looked_at_again_within_a_second(isolated_cache, monkeypatch):
    """A server reuses its look at the version files for FMNIST_STATE_POLL_S seconds; a change
    made by this process shows at once, one made by another process after the interval."""
    from fmnist_core.versions import history

    monkeypatch.setenv(history.POLL_ENV, "0.5")
    names = ["twoconv"]
    first = versions.state_signature(names)
    assert versions.state_signature(names) is first  # reused
    # another process's choice (the file written behind this one's back): seen after 0.5 s
    run = "20261205-010203-poll"
    folder = versions.versions_dir("twoconv") / run
    shutil.copytree(shipped_models_dir() / "twoconv", folder)
    assert versions.state_signature(names) is first
    clock = [history.time.monotonic() + 0.6]
    monkeypatch.setattr(history.time, "monotonic", lambda: clock[0])
    later = versions.state_signature(names)
    assert later != first
    # this process's own change: seen at once, without waiting
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "version_id": run}))
    versions.activate("twoconv", run, actor=MACHINE_OWNER)
    assert versions.state_signature(names) != later
