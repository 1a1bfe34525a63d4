"""The classroom quiz: the images a code gives, answers stored once each under concurrent
writers on SQLite and PostgreSQL, scores recounted from the database, resuming, the CLI, the
page (AppTest) and a whole quiz in a real browser."""

from __future__ import annotations

import json
import multiprocessing as mp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from fmnist_core.classroom import quiz, store
from fmnist_core.roles import MACHINE_OWNER

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "quiz.py")


def test_a_code_gives_everyone_the_same_stratified_images(real_dataset):
    y = real_dataset.y_test
    a = quiz.quiz_images("class-7b", y)
    assert len(a) == 20 and len(set(a.tolist())) == 20
    assert np.bincount(y[a], minlength=10).tolist() == [2] * 10  # each class twice
    np.testing.assert_array_equal(
        a, quiz.quiz_images("  Class 7B ", y)
    )  # same code, written loosely
    others = [quiz.quiz_images(c, y) for c in ("class-7c", "room-12", "abc")]
    assert all(set(o.tolist()) != set(a.tolist()) for o in others)
    assert y[a].tolist() != sorted(y[a].tolist())  # shuffled, not class by class


def test_codes_and_names_are_checked():
    for bad in ("", "ab", "-abc", "abc-", "a" * 40, "class/7", "<script>"):
        with pytest.raises(quiz.QuizError):
            quiz.normalise_code(bad)
    assert quiz.normalise_code(" Class 7B ") == "class-7b"
    with pytest.raises(quiz.QuizError, match="name"):
        quiz.clean_name("   ")
    assert quiz.clean_name("  Ann   Lee ") == "Ann Lee"


def _take_quizzes(args):
    """One process: `people` participants answer all 20 questions, each answer sent twice."""
    import os

    cache, url, worker, people = args
    os.environ["FMNIST_CACHE_DIR"] = cache
    if url:
        os.environ["FMNIST_DATABASE_URL"] = url
    else:
        os.environ.pop("FMNIST_DATABASE_URL", None)
    from fmnist_core.classroom import quiz as q
    from fmnist_core.data.fashion_mnist import load_dataset

    y = load_dataset().y_test
    stored = 0
    for k in range(people):
        token = q.start("load-test", f"worker {worker} person {k}")
        rng = np.random.default_rng(worker * 100 + k)
        for position in range(q.QUESTIONS):
            p = q.progress(token, y)
            choice = int(rng.integers(10))
            stored += q.answer(p, position, choice, y)
            stored += q.answer(p, position, (choice + 1) % 10, y)  # a double click: refused
    return stored


@pytest.mark.slow
def test_concurrent_quiz_takers_lose_and_double_nothing(database, tmp_path, real_dataset):
    import os

    url = os.environ.get("FMNIST_DATABASE_URL", "")
    jobs = [(str(tmp_path / "cache"), url, w, 3) for w in range(8)]
    with mp.get_context("spawn").Pool(8) as pool:
        stored = sum(pool.map(_take_quizzes, jobs))
    assert stored == 8 * 3 * 20  # every first answer stored, every second one refused
    with store.engine().connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(store.quiz_answers)).scalar()
        pairs = conn.execute(
            sa.select(sa.func.count()).select_from(
                sa.select(store.quiz_answers.c.participant, store.quiz_answers.c.position)
                .distinct()
                .subquery()
            )
        ).scalar()
        recount = dict(conn.execute(
            sa.select(store.quiz_answers.c.participant,
                      sa.func.sum(sa.case((store.quiz_answers.c.correct, 1), else_=0)))
            .group_by(store.quiz_answers.c.participant)
        ).all())  # fmt: skip
        names = dict(conn.execute(sa.select(store.quiz_participants.c.id,
                                            store.quiz_participants.c.name)).all())  # fmt: skip
    assert rows == pairs == 480
    res = quiz.class_results("load-test", real_dataset.y_test, MACHINE_OWNER)
    assert len(res.names) == 24 and res.in_progress == 0
    scores = dict(zip(res.names, res.scores(real_dataset.y_test)))
    for pid, right in recount.items():  # the scores equal a recount from the database
        assert scores[names[pid]] * 20 == pytest.approx(right)


def test_a_resumed_quiz_continues_where_it_was(database, real_dataset):
    from streamlit.testing.v1 import AppTest

    y = real_dataset.y_test
    token = quiz.start("resume-me", "Ann")
    for position in range(7):
        quiz.answer(quiz.progress(token, y), position, 0, y)
    p = quiz.progress(token, y)
    assert p.next_position == 7 and not p.finished
    assert quiz.progress("no-such-token", y) is None
    # a refreshed tab: a new session with the link's ?p=... carries on at question 8
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.query_params["p"] = token
    at.run()
    assert not at.exception
    assert at.get("progress")[0].proto.text == "Question 8 of 20"


def test_the_whole_quiz_and_the_class_view_in_apptest(database, real_dataset):
    from streamlit.testing.v1 import AppTest

    y = real_dataset.y_test
    images = quiz.quiz_images("class-7b", y)
    at = AppTest.from_file(PAGE, default_timeout=240).run()
    assert not at.exception
    at.text_input(key="quiz_name").input("**Ann** <i>x</i>")
    at.text_input(key="quiz_code").input("Class 7B")
    at.button(key="quiz_start").click().run()
    assert at.query_params["quiz"] == "class-7b"
    for i in range(20):  # 15 right, 5 wrong
        truth = int(y[images[i]])
        at.button(key=f"quiz_answer_{truth if i < 15 else (truth + 1) % 10}").click().run()
        assert not at.exception
    verdict = at.success[0].value
    assert "you got 15 of 20 right (75%)" in verdict
    assert r"\*\*Ann\*\* \<i\>x\</i\>" in verdict  # the name as typed, not as markup
    captions = [c for img in at.image for c in img.captions]
    assert sum("you said" in c for c in captions) == 5
    at.segmented_control(key="quiz_view").set_value("Class view").run()
    assert at.text_input(key="class_code").value == "class-7b"  # this tab's quiz
    assert not at.exception
    assert any("Quiz `class-7b`: 1 finished." in m.value for m in at.markdown)
    bad = AppTest.from_file(PAGE, default_timeout=240).run()
    bad.segmented_control(key="quiz_view").set_value("Class view").run()
    bad.text_input(key="class_code").input("no/such code").run()
    assert any("quiz code is 3 to 32" in e.value for e in bad.error)


def test_quiz_results_cli(database, real_dataset, tmp_path):
    import os

    y = real_dataset.y_test
    for name, right in (("Ann", 20), ("Bob", 10)):
        token = quiz.start("cli-quiz", name)
        images = quiz.quiz_images("cli-quiz", y)
        for position in range(20):
            truth = int(y[images[position]])
            quiz.answer(quiz.progress(token, y), position,
                        truth if position < right else (truth + 1) % 10, y)  # fmt: skip
    quiz.start("cli-quiz", "Cy")  # started, not finished
    run = subprocess.run(
        [sys.executable, "-m", "fmnist_core", "quiz-results", "cli-quiz", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=dict(os.environ),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["finished"] == 2 and out["in_progress"] == 1
    assert {p["name"]: p["score"] for p in out["people"]} == {"Ann": 1.0, "Bob": 0.5}
    assert out["images"] == [int(i) for i in quiz.quiz_images("cli-quiz", y)]
    bad = subprocess.run(
        [sys.executable, "-m", "fmnist_core", "quiz-results", "x"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and "quiz code" in bad.stderr


@pytest.mark.browser
def test_a_whole_quiz_in_a_real_browser(streamlit_url, page, real_dataset, tmp_path):
    y = real_dataset.y_test
    code = f"browser-{np.random.default_rng().integers(10**6)}"
    images = quiz.quiz_images(code, y)
    from fmnist_core.classes import CLASS_NAMES

    page.goto(f"{streamlit_url}/quiz?quiz={code}", wait_until="domcontentloaded")
    page.get_by_label("Your name").fill("Grace")
    page.get_by_label("Your name").press("Tab")
    page.get_by_role("button", name="Start the quiz").click()
    for i in range(20):
        page.get_by_text(f"Question {i + 1} of 20").wait_for(timeout=60_000)
        answer = int(y[images[i]]) if i % 4 else (int(y[images[i]]) + 1) % 10  # 15 right
        page.get_by_role("button", name=CLASS_NAMES[answer], exact=True).click()
    page.get_by_text("Grace, you got 15 of 20 right (75%)").wait_for(timeout=60_000)
    assert "p=" in page.url and f"quiz={code}" in page.url  # a refresh resumes this quiz
    page.get_by_role("radio", name="Class view").click()
    page.get_by_text(f"Quiz `{code}`".replace("`", "")).first.wait_for(timeout=60_000)
    page.get_by_text("1 finished").first.wait_for(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(tmp_path / "quiz.png"), full_page=True)
