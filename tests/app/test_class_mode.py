"""Class mode on the pages: the teacher changes what everyone sees, a student only their own
session; personal mode stays as it was. AppTest for the role matrix of each page's controls,
a real browser with a teacher and a student for the whole story."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import click_settled, run_cli, start_streamlit, stop_streamlit
from streamlit.testing.v1 import AppTest

from fmnist_core.roles import PASSWORD_ENV, Actor
from fmnist_core.training import jobs as train_jobs
from fmnist_core.training.run import TrainOptions, run_training
from fmnist_core.versions import SHIPPED, find_artifact

ROOT = Path(__file__).resolve().parents[2]
MODELS = str(ROOT / "pages" / "models.py")
TRAIN = str(ROOT / "pages" / "train.py")
COMPARE = str(ROOT / "pages" / "compare.py")
QUALITY = str(ROOT / "pages" / "quality.py")
PASSWORD = "correct horse"

TEACHER = Actor("Ms Smith", "teacher", "teacher")
ALEX = Actor("Alex", "student", "alex-0001")
SAM = Actor("Sam", "student", "sam-0002")


@pytest.fixture()
def alex_run(real_dataset, isolated_cache):
    """A fresh cache with one quick run of twoconv that the student Alex started."""
    return run_training(
        "twoconv", TrainOptions(epochs=1, limit=1000, started_by="Alex", via="app", session=ALEX.id)
    )


def page_as(path: str, actor: Actor | None) -> AppTest:
    at = AppTest.from_file(path, default_timeout=120)
    if actor is not None:
        at.session_state["_actor"] = actor
    return at.run()


def labels(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def texts(at: AppTest) -> str:
    return "\n".join(e.value for kind in (at.caption, at.markdown, at.info) for e in kind)


@pytest.mark.parametrize("mode", ["class", "personal"])
@pytest.mark.slow
def test_models_page_role_matrix(alex_run, monkeypatch, mode):
    """Use this version / Delete on the Models page, for each person, in each mode."""
    if mode == "class":
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    else:
        monkeypatch.delenv(PASSWORD_ENV, raising=False)
    version = alex_run.version

    sam = page_as(MODELS, SAM)
    assert not sam.exception
    if mode == "personal":  # everyone is the teacher: as before, plus how to turn on class mode
        assert "Use this version" in labels(sam) and "Delete" in labels(sam)
        assert "FMNIST_TEACHER_PASSWORD" in texts(sam)
        next(b for b in sam.button if b.label == "Use this version").click().run()
        assert find_artifact("twoconv").version == version
        return

    # a student: no control that changes everyone's pages, one line saying who does it
    assert "Use this version" not in labels(sam) and "Delete" not in labels(sam)
    assert "Only the teacher makes a version the one everyone uses." in texts(sam)
    assert "FMNIST_TEACHER_PASSWORD" not in texts(sam)
    next(b for b in sam.button if b.label == "Use in my session").click().run()
    assert not sam.exception
    assert sam.session_state["my_runs"] == {"twoconv": version}
    assert find_artifact("twoconv").version == SHIPPED  # nobody else's view changed

    # the student who started the run may delete it; the teacher may too, and uses it
    alex = page_as(MODELS, ALEX)
    assert "Delete" in labels(alex) and "Use this version" not in labels(alex)
    teacher = page_as(MODELS, TEACHER)
    assert "Delete" in labels(teacher)
    next(b for b in teacher.button if b.label == "Use this version").click().run()
    assert not teacher.exception
    assert find_artifact("twoconv").version == version


@pytest.mark.slow
def test_a_students_run_shows_on_their_pages_only(alex_run, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    at = AppTest.from_file(COMPARE, default_timeout=120)
    at.session_state["_actor"] = ALEX
    at.session_state["my_runs"] = {"twoconv": alex_run.version}
    at.run()
    assert not at.exception
    mine = [i.value for i in at.info if i.value.startswith("For you only")]
    assert mine and "**twoconv**" in mine[0] and "by Alex" in mine[0]
    # the leaderboard's twoconv is Alex's run (1 epoch: far below the shipped one's ~91%)
    board = at.dataframe[0].value.set_index("Model")
    run_accuracy = alex_run.manifest["test_accuracy"] * 100
    assert board.loc["twoconv", "Test accuracy"] == pytest.approx(run_accuracy, abs=0.01)
    # a classmate's page shows the class's version, and says nothing of Alex's run
    other = page_as(COMPARE, SAM)
    assert not any(i.value.startswith("For you only") for i in other.info)
    board = other.dataframe[0].value.set_index("Model")
    assert board.loc["twoconv", "Test accuracy"] > run_accuracy + 20
    assert find_artifact("twoconv").version == SHIPPED
    # the Embeddings page maps Alex's run's features, not the class's version's
    emb = AppTest.from_file(str(ROOT / "pages" / "embeddings.py"), default_timeout=120)
    emb.session_state["_actor"] = ALEX
    emb.session_state["my_runs"] = {"twoconv": alex_run.version}
    emb.run()
    assert not emb.exception
    sources = emb.selectbox[0].options
    assert any(o.startswith("twoconv: run") and "by Alex" in o for o in sources), sources


def _running_job_of(actor: Actor) -> None:
    """A job in the state the Train page sees while someone trains (this process stands in
    for the training process: the lock names a live pid)."""
    train_jobs._write_json(
        train_jobs._path(train_jobs.LOCK_FILE),
        {"pid": os.getpid(), "owner": actor.name, "model": "baseline", "since": time.time(),
         "session": actor.id},
    )  # fmt: skip
    train_jobs._write_json(
        train_jobs._path(train_jobs.STATUS_FILE),
        {"state": "running", "model": "baseline", "owner": actor.name, "fraction": 0.4,
         "started": time.time(), "history": [], "logs": {}},
    )  # fmt: skip


def test_train_page_cancel_matrix(real_dataset, isolated_cache, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    _running_job_of(ALEX)
    cancel = train_jobs._path(train_jobs.CANCEL_FILE)

    sam = page_as(TRAIN, SAM)
    assert not sam.exception
    assert "Cancel training" not in labels(sam)
    assert "Only the teacher cancels someone else's training." in texts(sam)
    assert "**Alex** is training **baseline**" in texts(sam)
    assert not cancel.exists()

    alex = page_as(TRAIN, ALEX)
    assert "Cancel training" in labels(alex) and "Your training of" in texts(alex)
    teacher = page_as(TRAIN, TEACHER)
    next(b for b in teacher.button if b.label == "Cancel training").click().run()
    assert not teacher.exception
    assert cancel.exists()


# --------------------------------------------------------------------------- a real browser


@pytest.fixture(scope="module")
def class_server(real_dataset, tmp_path_factory):
    """The app in class mode on its own cache folder."""
    cache = tmp_path_factory.mktemp("class-cache")
    env = {**os.environ, "FMNIST_CACHE_DIR": str(cache), PASSWORD_ENV: PASSWORD,
           "FMNIST_TEACHER_NAME": "Ms Smith"}  # fmt: skip
    proc, url = start_streamlit(env, cache / "streamlit.log")
    yield url, cache
    stop_streamlit(proc)


def _versions(cache: Path) -> dict:
    out = run_cli("list", "--json", env={**os.environ, "FMNIST_CACHE_DIR": str(cache)})
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    return {r["name"]: next((v["id"] for v in r["versions"] if v["active"]), None) for r in rows}


def _idle(page) -> None:
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        timeout=120_000
    )


@pytest.mark.browser
@pytest.mark.slow
def test_teacher_and_student_in_two_browsers(class_server, browser):
    """A student trains, survives a reload, presses every button on the Models page and
    changes nobody's view; the teacher signs in and changes it with one click."""
    url, cache = class_server
    student = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    student.goto(url + "/train", wait_until="domcontentloaded")
    student.get_by_text("Class mode: you are a student").wait_for(timeout=90_000)
    student.get_by_label("Model", exact=True).wait_for()
    student.get_by_label("Epochs", exact=True).fill("1")
    student.get_by_label("Your name (shown to others while you train)").fill("Alex")
    click_settled(student.get_by_role("button", name="Start training"))
    student.get_by_text("Saved as version").first.wait_for(timeout=240_000)
    status = json.loads((cache / train_jobs.STATUS_FILE).read_text())
    model, run_id = status["model"], status["version"]

    # a reload and a new tab of the same browser are the same person: still Alex
    student.reload(wait_until="domcontentloaded")
    student.get_by_text("you are Alex").wait_for(timeout=60_000)
    tab = student.context.new_page()
    tab.goto(url + "/models", wait_until="domcontentloaded")
    tab.get_by_text("you are Alex").wait_for(timeout=60_000)

    before = _versions(cache)
    # every button on the Models page, as the student
    tab.get_by_text(f"{model}: 2 versions; in use").first.click()
    _idle(tab)
    assert tab.get_by_role("button", name="Use this version").count() == 0
    click_settled(tab.get_by_role("button", name="Use in my session"))
    _idle(tab)
    assert _versions(cache) == before  # the class's versions are untouched
    # the choice is this browser's: a page opened afresh shows the run, named as theirs
    tab.goto(url + "/predict", wait_until="domcontentloaded")
    tab.get_by_text("For you only").first.wait_for(timeout=60_000)
    assert "your choice" in tab.get_by_text("For you only").first.inner_text()
    tab.goto(url + "/models", wait_until="domcontentloaded")
    tab.get_by_text(f"{model}: 2 versions; in use").first.click()
    _idle(tab)
    click_settled(tab.get_by_role("button", name="Back to the class's version"))
    _idle(tab)
    assert _versions(cache) == before
    # their own run: they may delete it, after a reload too
    assert tab.get_by_role("button", name="Delete").count() == 1
    assert tab.locator("[data-testid='stException']").count() == 0
    click_settled(tab.get_by_role("button", name="Compare with the one in use"))
    tab.get_by_role("heading", name="Leaderboard").wait_for(timeout=60_000)
    assert _versions(cache) == before  # every button pressed: nothing changed for anyone

    # the teacher, in another browser: signs in, and one click changes every page
    teacher = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    teacher.goto(url + "/models", wait_until="domcontentloaded")
    teacher.get_by_text("Teacher sign-in").click()
    teacher.get_by_label("Teacher password").fill("wrong")
    click_settled(teacher.get_by_role("button", name="Sign in"))
    teacher.get_by_text("That is not the teacher password.").wait_for(timeout=30_000)
    teacher.get_by_label("Teacher password").fill(PASSWORD)
    click_settled(teacher.get_by_role("button", name="Sign in"))
    teacher.get_by_text("Signed in as").wait_for(timeout=30_000)
    assert "Ms Smith (teacher)" in teacher.get_by_text("Signed in as").inner_text()
    teacher.get_by_text(f"{model}: 2 versions; in use").first.click()
    click_settled(teacher.get_by_role("button", name="Use this version"))
    teacher.get_by_text(f"{model}: 2 versions; in use: {run_id}").first.wait_for(timeout=30_000)
    assert _versions(cache)[model] == run_id
    # the student's pages now show the teacher's choice, and name it
    tab.goto(url + "/predict", wait_until="domcontentloaded")
    tab.get_by_text("Not the shipped version").first.wait_for(timeout=60_000)
    # a signed-in teacher stays signed in after a reload; signing out ends it
    teacher.reload(wait_until="domcontentloaded")
    teacher.get_by_text("Signed in as").wait_for(timeout=60_000)
    click_settled(teacher.get_by_role("button", name="Sign out"))
    teacher.get_by_text("Class mode: you are a student").wait_for(timeout=30_000)
    for p in (student, tab, teacher):
        p.context.close()


@pytest.mark.slow
def test_data_quality_student_proposes_and_the_teacher_settles(
    real_dataset, isolated_cache, monkeypatch
):
    from fmnist_core.classroom import store
    from fmnist_core.quality import label_issues

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    suspects, _, _ = label_issues.training_suspects(real_dataset)
    first = int(suspects.indices[0])
    widget = f"train_decision_{first}"

    # a student without a name is asked for one, and cannot take the teacher's
    at = page_as(QUALITY, Actor("", "student", "kim-0003"))
    assert not at.exception
    at.text_input(key="name_reviewer").input("Ms Smith (teacher)")
    next(b for b in at.button if b.label == "Save my name").click().run()
    assert any("only for the signed-in teacher" in e.value for e in at.error)
    at.text_input(key="name_reviewer").input("Kim")
    next(b for b in at.button if b.label == "Save my name").click().run()
    assert "Deciding as **Kim**" in texts(at) and "proposals" in texts(at)
    at.segmented_control(key=widget).set_value("relabel").run()
    assert not at.exception
    assert first not in store.current_decisions("train")  # a proposal settles nothing
    assert [p["reviewer"] for p in store.proposals("train")[first]] == ["Kim"]

    # the teacher sees the proposal and settles the image for the team
    teacher = page_as(QUALITY, TEACHER)
    assert "Proposed: relabel" in texts(teacher) and "(Kim)" in texts(teacher)
    teacher.segmented_control(key=widget).set_value("keep").run()
    settled = store.current_decisions("train")[first]
    assert settled["decision"] == "keep" and settled["reviewer"] == "Ms Smith"
    assert "by Ms Smith (teacher)" in texts(teacher)


def test_a_name_taken_in_a_quiz_is_refused_on_the_page(real_dataset, isolated_cache, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    quiz_page = str(ROOT / "pages" / "quiz.py")
    first = page_as(quiz_page, Actor("", "student", "p-1"))
    first.text_input(key="quiz_name").input("Alex")
    first.text_input(key="quiz_code").input("class-7b")
    first.button(key="quiz_start").click().run()
    assert not first.exception and not first.error
    assert first.session_state["_actor"].name == "Alex"  # given once: theirs from now on
    second = page_as(quiz_page, Actor("", "student", "p-2"))
    second.text_input(key="quiz_name").input(" alex ")
    second.text_input(key="quiz_code").input("Class-7B")
    second.button(key="quiz_start").click().run()
    assert [e.value for e in second.error] == ["alex is taken; add an initial."]
    assert second.session_state["_actor"].name == ""  # refused: no name taken either
    # a name given before is filled in
    again = page_as(quiz_page, Actor("Alex B", "student", "p-2"))
    assert again.text_input(key="quiz_name").value == "Alex B"
