"""Class mode in the core: every teacher-only action asked for by a student is refused (and
changes nothing), the teacher's works; a student manages their own runs and training only;
a student's label decision is a proposal; one name per quiz, even when two people start at
once; a database from before roles is brought up to date when opened."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from conftest import run_cli

from fmnist_core import versions
from fmnist_core.classroom import quiz, store
from fmnist_core.errors import FmnistError
from fmnist_core.roles import MACHINE_OWNER, STUDENT, TEACHER, TEACHER_ONLY, Actor, NotAllowed
from fmnist_core.training import jobs
from fmnist_core.versions import SHIPPED, find_artifact, shipped_models_dir

ROOT = Path(__file__).resolve().parents[2]
MS_SMITH = Actor("Ms Smith", TEACHER, "smith-id")
ANN = Actor("Ann", STUDENT, "ann-id")
BOB = Actor("Bob", STUDENT, "bob-id")
Y = np.tile(np.arange(10), 50)  # labels enough to draw a quiz: no dataset needed


def refused(action: str):
    """pytest.raises for a student's teacher-only action, with the sentence they read."""
    return pytest.raises(NotAllowed, match=f"^{TEACHER_ONLY[action]}$")


def copy_run(name: str, version: str, by: Actor | None) -> Path:
    """A real run of `name`: its shipped artifact copied into the versions folder, started
    in the app by `by` (None: a run from before anyone was recorded)."""
    folder = versions.versions_dir(name) / version
    folder.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(shipped_models_dir() / name, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["version_id"] = version
    if by is not None:
        manifest["started_by"] = {"name": by.name, "via": "app", "session": by.id}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def active_file(name: str) -> dict | None:
    path = versions.versions_dir(name) / versions.ACTIVE_FILE
    return json.loads(path.read_text()) if path.exists() else None


# --------------------------------------------------------------------------- versions


def test_only_the_teacher_makes_a_version_the_one_everyone_uses(isolated_cache):
    run = "20261129-000000-aaaa"
    copy_run("twoconv", run, ANN)
    with refused("use_version"):
        versions.activate("twoconv", run, actor=ANN)  # not even their own run
    assert active_file("twoconv") is None
    assert find_artifact("twoconv").version == SHIPPED
    art = versions.activate("twoconv", run, actor=MS_SMITH)
    assert art.version == run and find_artifact("twoconv").version == run
    chosen = active_file("twoconv")
    assert chosen["version"] == run and chosen["by"] == "Ms Smith (teacher)"
    with refused("use_version"):
        versions.activate("twoconv", SHIPPED, actor=BOB)
    assert active_file("twoconv") == chosen  # unchanged on disk, to the byte
    assert find_artifact("twoconv").version == run


def test_a_student_deletes_their_own_run_not_someone_elses(isolated_cache):
    ann_run, bob_run = "20261129-000000-aaaa", "20261129-000001-bbbb"
    ann_folder, bob_folder = copy_run("twoconv", ann_run, ANN), copy_run("twoconv", bob_run, BOB)
    ann_manifest = versions.get_version("twoconv", ann_run).manifest
    assert versions.run_owner_id(ann_manifest) == "ann-id"
    assert versions.is_own(ann_manifest, "ann-id") and not versions.is_own(ann_manifest, "bob-id")
    assert not versions.is_own(ann_manifest, "")
    assert versions.may_delete(ANN, ann_manifest) and not versions.may_delete(BOB, ann_manifest)
    assert versions.may_delete(MS_SMITH, ann_manifest)
    shipped = versions.get_version("twoconv", SHIPPED).manifest
    assert versions.run_owner_id(shipped) is None
    for who in (MS_SMITH, ANN, MACHINE_OWNER):  # the shipped version: nobody, ever
        assert not versions.may_delete(who, shipped)
        assert not versions.may_delete(who, shipped, SHIPPED)

    with refused("delete_run"):
        versions.delete_version("twoconv", ann_run, actor=BOB)
    assert ann_folder.is_dir()
    versions.delete_version("twoconv", ann_run, actor=ANN)
    assert not ann_folder.exists()
    versions.delete_version("twoconv", bob_run, actor=MS_SMITH)  # the teacher deletes any
    assert not bob_folder.exists()
    with pytest.raises(versions.VersionError, match="cannot be deleted"):
        versions.delete_version("twoconv", SHIPPED, actor=MS_SMITH)
    assert [v.id for v in versions.list_versions("twoconv")] == [SHIPPED]


def test_a_run_whose_owner_is_unknown_is_the_teachers_to_delete(isolated_cache):
    old, damaged = "20261129-000000-0old", "20261129-000001-dmgd"
    copy_run("twoconv", old, None)
    damaged_folder = copy_run("twoconv", damaged, ANN)
    (damaged_folder / "manifest.json").write_text("{not json")
    for run in (old, damaged):
        with refused("delete_run"):
            versions.delete_version("twoconv", run, actor=ANN)
    listed = {v.id: v for v in versions.list_versions("twoconv")}
    assert listed[damaged].problem and listed[damaged].manifest == {}
    assert versions.may_delete(MS_SMITH, listed[damaged].manifest, damaged)
    assert not versions.may_delete(ANN, listed[damaged].manifest, damaged)
    assert versions.may_delete(MS_SMITH, listed[old].manifest, old)
    for run in (old, damaged):
        versions.delete_version("twoconv", run, actor=MS_SMITH)
    assert [v.id for v in versions.list_versions("twoconv")] == [SHIPPED]


def test_only_the_teacher_resets_the_class_demo(isolated_cache):
    twoconv_run, strided_run, gone = (
        "20261129-000000-aaaa",
        "20261129-000001-bbbb",
        "20261129-000002-gone",
    )
    copy_run("twoconv", twoconv_run, ANN)
    copy_run("strided3", strided_run, BOB)
    copy_run("cnn3", gone, BOB)
    assert versions.reset_plan() == []  # nothing chosen: every model uses its shipped version
    versions.activate("twoconv", twoconv_run, actor=MS_SMITH)
    versions.activate("strided3", strided_run, actor=MS_SMITH)
    versions.activate("cnn3", gone, actor=MS_SMITH)
    versions.delete_version("cnn3", gone, actor=MS_SMITH)  # in use, deleted: shipped again
    versions.activate("baseline", SHIPPED, actor=MS_SMITH)  # chosen, and the shipped one
    plan = versions.reset_plan()
    assert sorted(plan) == [("strided3", strided_run), ("twoconv", twoconv_run)]
    before = {n: active_file(n) for n in ("twoconv", "strided3")}
    with refused("reset_demo"):
        versions.reset_to_shipped(actor=ANN)
    assert {n: active_file(n) for n in before} == before
    assert find_artifact("twoconv").version == twoconv_run
    changed = versions.reset_to_shipped(actor=MS_SMITH)
    assert sorted(changed) == sorted(plan)
    assert versions.reset_plan() == []
    for name, run in plan:
        assert find_artifact(name).version == SHIPPED
        assert active_file(name)["by"] == "Ms Smith (teacher)"
        assert versions.get_version(name, run).version == run  # the runs are kept
    assert versions.reset_to_shipped(actor=MS_SMITH) == []


def test_the_command_line_acts_as_the_teacher(isolated_cache):
    run = "20261129-000000-aaaa"
    folder = copy_run("twoconv", run, ANN)  # a student's run
    out = run_cli("activate", "twoconv", run)
    assert out.returncode == 0 and "is active" in out.stdout, out.stderr
    assert active_file("twoconv")["by"] == "the command line (teacher)"
    out = run_cli("delete", "twoconv", run)
    assert out.returncode == 0, out.stderr
    assert not folder.exists() and find_artifact("twoconv").version == SHIPPED


# --------------------------------------------------------------------------- training jobs


@pytest.fixture()
def anns_job(isolated_cache):
    """Ann's training, as its lock says (held by this live process: nothing is trained)."""
    isolated_cache.mkdir(parents=True, exist_ok=True)
    lock = {"pid": os.getpid(), "owner": "Ann", "model": "twoconv", "session": ANN.id,
            "since": 0}  # fmt: skip
    (isolated_cache / jobs.LOCK_FILE).write_text(json.dumps(lock))
    yield isolated_cache
    (isolated_cache / jobs.LOCK_FILE).unlink(missing_ok=True)


def test_a_student_cancels_their_own_training_not_someone_elses(anns_job):
    cancel = anns_job / jobs.CANCEL_FILE
    lock = jobs.read_lock()
    assert jobs.may_cancel(ANN, lock) and jobs.may_cancel(MS_SMITH, lock)
    assert not jobs.may_cancel(BOB, lock) and not jobs.may_cancel(ANN, None)
    with refused("cancel_training"):
        jobs.cancel_job(actor=BOB)
    assert not cancel.exists()
    jobs.cancel_job(actor=ANN)
    assert cancel.exists()
    cancel.unlink()
    jobs.cancel_job(actor=MS_SMITH)  # the teacher cancels anyone's
    assert cancel.exists()
    # whoever asks, Ann is told it is her own run, the others who trains
    assert jobs.busy_message(lock, None, ANN.id).startswith("Your training of twoconv")
    assert jobs.busy_message(lock, None, BOB.id).startswith("Ann is training twoconv")
    assert jobs.busy_message(lock, None).startswith("Ann is training twoconv")


def test_a_second_start_is_refused_with_who_trains(anns_job):
    with pytest.raises(jobs.JobBusy, match="^Ann is training twoconv"):
        jobs.start_job("cnn1", jobs.default_options("cnn1"), BOB)


def test_with_no_training_nothing_is_cancelled_and_nothing_refused(isolated_cache):
    jobs.cancel_job(actor=BOB)
    assert not (isolated_cache / jobs.CANCEL_FILE).exists()


# --------------------------------------------------------------------------- label decisions


def test_a_students_decision_is_a_proposal_the_teachers_settles(database):
    store.record_decision("train", 3, "relabel", ANN, new_label=6)
    assert store.current_decisions("train") == {}  # nothing settled by a student
    (proposal,) = store.proposals("train")[3]
    assert (proposal["reviewer"], proposal["role"], proposal["session"]) == ("Ann", STUDENT, ANN.id)
    assert proposal["decision"] == "relabel" and proposal["new_label"] == 6
    store.record_decision("train", 3, "keep", MS_SMITH)
    settled = store.current_decisions("train")[3]
    assert (settled["decision"], settled["role"], settled["reviewer"]) == (
        "keep",
        TEACHER,
        "Ms Smith",
    )
    assert store.proposals("train") == {}  # answered by the teacher
    store.record_decision("train", 3, "ambiguous", BOB)  # a later proposal: shown again
    store.record_decision("train", 3, "relabel", ANN, new_label=2)
    store.record_decision("train", 8, "keep", BOB)
    later = store.proposals("train")
    assert [p["reviewer"] for p in later[3]] == ["Bob", "Ann"]  # oldest first
    assert [p["reviewer"] for p in later[8]] == ["Bob"]
    assert store.current_decisions("train")[3]["decision"] == "keep"  # still the teacher's
    assert 8 not in store.current_decisions("train")
    rows = store.decisions_csv("train").splitlines()
    assert len(rows) == 2 and rows[1].startswith("train,3,,keep,,Ms Smith,")
    assert store.proposals("test") == {} and store.current_decisions("test") == {}


# --------------------------------------------------------------------------- the quiz


def finish(token: str, right: int) -> None:
    p = quiz.progress(token, Y)
    for position in range(quiz.QUESTIONS):
        truth = int(Y[p.images[position]])
        quiz.answer(p, position, truth if position < right else (truth + 1) % 10, Y)


def test_only_the_teacher_sees_names_and_erases_a_quiz(database):
    finish(quiz.start("room-4", "Ann"), 20)
    finish(quiz.start("room-4", "Bob"), 10)
    quiz.start("room-4", "Cy")  # still answering
    finish(quiz.start("room-5", "Ann"), 5)  # another quiz
    assert quiz.counts("room-4") == (3, 2) and quiz.counts("Room 4 ") == (3, 2)
    theirs = quiz.class_results("room-4", Y, ANN)
    assert theirs.names is None and theirs.finished == 2 and theirs.in_progress == 1
    assert sorted(theirs.scores(Y).tolist()) == [0.5, 1.0]  # the class's scores, no names
    with refused("quiz_names"):
        theirs.people(Y)
    mine = quiz.class_results("room-4", Y, MS_SMITH)
    assert mine.names == ["Ann", "Bob"]
    people = mine.people(Y)
    assert [(n, s) for n, s, _ in people] == [("Ann", 1.0), ("Bob", 0.5)]
    assert (people[0][2] == Y[mine.images]).all()  # Ann's answers, question by question
    with refused("quiz_names"):
        quiz.results_csv("room-4", Y, ANN)
    csv_text = quiz.results_csv("room-4", Y, MS_SMITH)
    assert csv_text.count("\n") == 1 + 40 and ",Bob," in csv_text

    with refused("erase_quiz"):
        quiz.erase("room-4", BOB)
    assert quiz.counts("room-4") == (3, 2)
    assert quiz.erase("room-4", MS_SMITH) == 3
    assert quiz.counts("room-4") == (0, 0)
    assert quiz.class_results("room-4", Y, MS_SMITH).names == []
    assert quiz.counts("room-5") == (1, 1)  # other quizzes untouched
    quiz.start("room-4", "Ann")  # and the code can be used afresh, names free again
    assert quiz.counts("room-4") == (1, 0)


def test_a_name_is_one_persons_in_a_quiz(database):
    quiz.start("room-6", "Ann Lee")
    for same in ("ann lee", "  ANN   LEE ", "Ann\tLee"):
        with pytest.raises(quiz.NameTaken) as caught:
            quiz.start("room-6", same)
        assert isinstance(caught.value, FmnistError)
        assert str(caught.value) == f"{quiz.clean_name(same)} is taken; add an initial."
    quiz.start("room-6", "Ann Lee B")  # with an initial: another person
    quiz.start("room-7", "Ann Lee")  # another quiz: free
    assert quiz.counts("room-6") == (2, 0)


def race(code: str, n: int) -> tuple[list[str], list[int], list[str]]:
    """`n` threads start quiz `code` at the same moment under one name, written two ways:
    the tokens that got in, who was told the name is taken, anything else raised."""
    barrier = threading.Barrier(n)
    won: list[str] = []
    taken: list[int] = []
    other: list[str] = []

    def start(k: int) -> None:
        barrier.wait()
        try:
            won.append(quiz.start(code, "Zoe" if k % 2 else "zoe "))
        except quiz.NameTaken:
            taken.append(k)
        except Exception as e:  # noqa: BLE001 - reported by the test
            other.append(repr(e))

    threads = [threading.Thread(target=start, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return won, taken, other


def test_two_people_starting_with_one_name_at_once_exactly_one_wins(database):
    for round_ in range(3):
        code, n = f"race-{round_}", 8
        won, taken, other = race(code, n)
        assert other == [] and len(won) == 1 and len(taken) == n - 1
        people, _ = store.quiz_rows(code)
        assert [p["id"] for p in people] == won


# --------------------------------------------------------------------------- old databases


OLD_DECISIONS = """CREATE TABLE label_decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, split VARCHAR(8) NOT NULL,
    image_index INTEGER NOT NULL, decision VARCHAR(16) NOT NULL, new_label INTEGER,
    reviewer VARCHAR(80) NOT NULL, session VARCHAR(64) NOT NULL,
    decided_utc VARCHAR(32) NOT NULL)"""
OLD_PARTICIPANTS = """CREATE TABLE quiz_participants (
    id VARCHAR(32) PRIMARY KEY, code VARCHAR(32) NOT NULL, name VARCHAR(80) NOT NULL,
    started_utc VARCHAR(32) NOT NULL)"""


def old_database(path: Path, participants: list[tuple[str, str, str]]) -> None:
    """A SQLite file as the app wrote it before roles: no role, no name_key, no name index."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(OLD_DECISIONS)
        db.execute(OLD_PARTICIPANTS)
        db.execute("CREATE INDEX ix_label_decisions_image ON label_decisions (split, image_index)")
        db.execute(
            "INSERT INTO label_decisions (split, image_index, decision, new_label, reviewer, "
            "session, decided_utc) VALUES ('train', 5, 'relabel', 2, 'Old Reviewer', '', "
            "'2025-01-01T00:00:00+00:00')"
        )
        db.executemany(
            "INSERT INTO quiz_participants VALUES (?, ?, ?, '2025-01-01T00:00:00+00:00')",
            participants,
        )
    db.close()


def columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(store.engine()).get_columns(table)}


def name_index_exists() -> bool:
    found = sa.inspect(store.engine()).get_indexes("quiz_participants")
    return any(ix["name"] == store.NAME_INDEX and ix["unique"] for ix in found)


@pytest.fixture()
def old_db(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("FMNIST_CACHE_DIR", str(cache))
    monkeypatch.delenv("FMNIST_DATABASE_URL", raising=False)
    store._engine.cache_clear()
    yield cache / "explorer.db"
    store._engine.cache_clear()


def test_an_old_database_gets_the_role_column_and_the_name_index(old_db):
    old_database(old_db, [("p1", "room-1", "Ann"), ("p2", "room-1", "Bob")])
    assert "role" in columns("label_decisions")
    assert "name_key" in columns("quiz_participants") and name_index_exists()
    old = store.current_decisions("train")[5]  # a decision from before roles stays settled
    assert (
        old["role"] is None and old["decision"] == "relabel" and old["reviewer"] == "Old Reviewer"
    )
    assert store.proposals("train") == {}
    store.record_decision("train", 5, "keep", ANN)
    assert store.current_decisions("train")[5]["reviewer"] == "Old Reviewer"
    assert [p["reviewer"] for p in store.proposals("train")[5]] == ["Ann"]
    with pytest.raises(quiz.NameTaken, match="^ANN is taken; add an initial.$"):
        quiz.start("room-1", "ANN")  # an old participant's name, filled in by the migration
    quiz.start("room-1", "Cy")
    store._engine.cache_clear()  # opened again: nothing to do, nothing breaks
    assert len(store.quiz_rows("room-1")[0]) == 3 and name_index_exists()


def test_an_old_database_holding_one_name_twice_still_refuses_a_third(old_db):
    old_database(old_db, [("p1", "room-1", "Ann"), ("p2", "room-1", "ann")])
    assert "name_key" in columns("quiz_participants")
    assert not name_index_exists()  # cannot be made over the duplicates; the app still opens
    with pytest.raises(quiz.NameTaken):
        quiz.start("room-1", "Ann")
    quiz.start("room-1", "Ann B")
    assert len(store.quiz_rows("room-1")[0]) == 3


def test_servers_opening_an_old_database_at_once_all_succeed(old_db):
    old_database(old_db, [("p1", "room-1", "Ann")])
    script = (
        "from fmnist_core.classroom import store\n"
        "store.engine()\n"
        "print(sorted(store.current_decisions('train')))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in results]
    assert all(out.strip() == "[5]" for out, _ in results)
    assert "role" in columns("label_decisions") and name_index_exists()


def test_an_old_database_is_migrated_on_either_engine(database):
    """The same migration on PostgreSQL (where configured) and SQLite, with old tables made
    by SQLAlchemy as the previous version declared them."""
    old = sa.MetaData()
    sa.Table(
        "label_decisions", old,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("split", sa.String(8), nullable=False),
        sa.Column("image_index", sa.Integer, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("new_label", sa.Integer, nullable=True),
        sa.Column("reviewer", sa.String(80), nullable=False),
        sa.Column("session", sa.String(64), nullable=False, default=""),
        sa.Column("decided_utc", sa.String(32), nullable=False),
    )  # fmt: skip
    people = sa.Table(
        "quiz_participants", old,
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("started_utc", sa.String(32), nullable=False),
    )  # fmt: skip
    if database == "sqlite":  # (the fixture leaves no file and no folder yet)
        Path(store.database_url().split("///", 1)[1]).parent.mkdir(parents=True)
    raw = sa.create_engine(store.database_url())
    try:
        old.create_all(raw)
        with raw.begin() as conn:
            conn.execute(people.insert().values(id="p1", code="room-1", name="Ann", started_utc=""))
    finally:
        raw.dispose()
    assert {"role"} <= columns("label_decisions") and name_index_exists()
    with pytest.raises(quiz.NameTaken):
        quiz.start("room-1", "ann")
    store.record_decision("test", 1, "keep", MS_SMITH)
    assert store.current_decisions("test")[1]["role"] == TEACHER
