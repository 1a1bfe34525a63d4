"""Faults with nothing lost (issue 31): PostgreSQL stopped while people take a quiz, an app
server killed with SIGKILL behind the proxy, both servers restarted.

The database is a throwaway cluster (deploy/local_postgres.py) so stopping it disturbs no
other test; the servers and HAProxy come from deploy/serve.py. Every answer is counted in SQL
afterwards: none lost, none counted twice."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import sqlalchemy as sa
from conftest import add_shipped_copy_as_run, click_settled, haproxy_or_skip, load_deploy, run_cli
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from streamlit.testing.v1 import AppTest

from fmnist_core import versions
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.classroom import quiz, store
from fmnist_core.roles import MACHINE_OWNER

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "quiz.py")


@pytest.fixture()
def quiz_on_local_pg(real_dataset, local_pg, isolated_cache, monkeypatch):
    monkeypatch.setenv("FMNIST_DATABASE_URL", local_pg.url)
    store._engine.cache_clear()
    yield local_pg
    if not local_pg.running():
        local_pg.start()
    store._engine.cache_clear()


def stored_answers(participant: str) -> tuple[int, int]:
    """(rows, distinct questions) stored for one participant: equal when nothing doubled."""
    q = store.quiz_answers
    with store.engine().connect() as conn:
        rows = conn.execute(
            sa.select(sa.func.count()).select_from(q).where(q.c.participant == participant)
        ).scalar_one()
        distinct = conn.execute(
            sa.select(sa.func.count(sa.distinct(q.c.position))).where(
                q.c.participant == participant
            )
        ).scalar_one()
    return int(rows), int(distinct)


def _question(at: AppTest) -> str:
    return at.get("progress")[0].proto.text if at.get("progress") else ""


def _infos(at: AppTest) -> str:
    return "\n".join(i.value for i in at.info) + "\n".join(w.value for w in at.warning)


def test_answers_wait_while_the_database_is_stopped_and_are_saved_once_it_is_back(
    quiz_on_local_pg,
):
    pg = quiz_on_local_pg
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.run()
    at.text_input(key="quiz_name").input("Ann")
    at.text_input(key="quiz_code").input("outage-apptest")
    at.button(key="quiz_start").click().run()
    token = at.session_state["quiz_participant"]
    for q in range(5):
        assert _question(at) == f"Question {q + 1} of 20"
        at.button(key="quiz_answer_0").click().run()
    assert stored_answers(token) == (5, 5)

    pg.stop()
    for q in range(5, 9):  # the quiz goes on: each answer waits in the session
        at.button(key="quiz_answer_1").click().run()
        assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
        assert _question(at) == f"Question {q + 2} of 20"
        assert re.search(r"Saving… \d answers? waits? for the database", _infos(at)), _infos(at)
    assert "Saving… 4 answers wait" in _infos(at)
    # while it is away, a reload of the page keeps what was read and what waits
    at.run()
    assert _question(at) == "Question 10 of 20" and not at.exception

    pg.start()
    at.run()  # the next run saves them (in the browser, the "Saving…" box retries every 2 s)
    assert "Saving" not in _infos(at)
    assert stored_answers(token) == (9, 9)
    answers = store.answers_of(token)
    assert [answers[p]["answer"] for p in range(9)] == [0] * 5 + [1] * 4
    for _ in range(11):
        at.button(key="quiz_answer_2").click().run()
    assert any("you got" in s.value for s in at.success), [s.value for s in at.success]
    assert stored_answers(token) == (20, 20)


def test_a_reload_during_the_outage_waits_then_resumes(quiz_on_local_pg, real_dataset):
    """A fresh session (a reload on another server) while the database is away has nothing
    read yet: one line says so, and the quiz resumes from its link once it is back."""
    pg = quiz_on_local_pg
    y = real_dataset.y_test
    token = quiz.start("outage-reload", "Bo")
    p = quiz.progress(token, y)
    for position in range(3):
        quiz.answer(p, position, 4, y)
    pg.stop()
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.query_params["p"] = token
    at.run()
    assert not at.exception and not at.error
    assert "the database is not answering" in _infos(at), _infos(at)
    assert not at.get("progress")  # no question is shown that might be answered twice
    pg.start()
    at.run()
    assert _question(at) == "Question 4 of 20"


@pytest.mark.slow
def test_the_class_view_is_right_again_once_the_database_is_back(quiz_on_local_pg, real_dataset):
    pg = quiz_on_local_pg
    y = real_dataset.y_test
    for name in ("Cy", "Di"):
        token = quiz.start("outage-class", name)
        p = quiz.progress(token, y)
        for position in range(quiz.QUESTIONS):
            quiz.answer(p, position, int(y[p.images[position]]), y)
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.query_params["quiz"] = "outage-class"
    at.run()
    at.segmented_control(key="quiz_view").set_value("Class view").run()
    assert "2 finished" in "\n".join(m.value for m in at.markdown)
    pg.stop()
    at.run()
    assert not at.exception and not at.error
    assert "the database is not answering" in _infos(at)
    pg.start()
    at.run()
    assert "2 finished" in "\n".join(m.value for m in at.markdown)
    assert np.isclose(quiz.class_results("outage-class", y, quiz_actor()).scores(y), 1).all()


def quiz_actor():
    return MACHINE_OWNER


# --------------------------------------------------------------------------- through the proxy

serve = load_deploy("serve")
RUN = "20261205-000000-fault"  # a run of twoconv (its shipped artifact), made the one in use


@pytest.fixture(scope="module")
def behind_proxy(real_dataset, local_pg, tmp_path_factory):
    """Two app servers and HAProxy (deploy/serve.py) on the throwaway PostgreSQL and a cache
    folder of their own, holding a second version of twoconv."""
    haproxy_or_skip(serve)
    cache = tmp_path_factory.mktemp("faults-cache")
    add_shipped_copy_as_run(cache, "twoconv", RUN)
    env = {**os.environ, "FMNIST_CACHE_DIR": str(cache), "FMNIST_DATABASE_URL": local_pg.url}
    with serve.serving(2, env=env, log_dir=cache / "logs") as deployment:
        yield deployment, env, local_pg


@pytest.fixture()
def on_the_deployment(behind_proxy, monkeypatch):
    """This process on the deployment's cache and database (to count in SQL)."""
    deployment, env, pg = behind_proxy
    monkeypatch.setenv("FMNIST_CACHE_DIR", env["FMNIST_CACHE_DIR"])
    monkeypatch.setenv("FMNIST_DATABASE_URL", env["FMNIST_DATABASE_URL"])
    store._engine.cache_clear()
    yield deployment, env, pg
    if not pg.running():
        pg.start()
    store._engine.cache_clear()


def _server_of(page) -> str:
    return next((c["value"] for c in page.context.cookies() if c["name"] == serve.COOKIE), "")


def _start_quiz(browser, url: str, code: str, name: str):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{url}/quiz?quiz={code}", wait_until="domcontentloaded")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Your name").press("Enter")
    click_settled(page.get_by_role("button", name="Start the quiz"))
    page.get_by_text("Question 1 of 20").wait_for(timeout=120_000)
    return page


def _answer(page, done: int, timeout: float = 60_000) -> None:
    """Click an answer to question done+1 and wait for the next question (or the score)."""
    page.get_by_role("button", name=CLASS_NAMES[done % 10], exact=True).click()
    following = f"Question {done + 2} of 20" if done < 19 else "you got"
    page.get_by_text(following).first.wait_for(timeout=timeout)


def _token(page) -> str:
    return parse_qs(urlparse(page.url).query)["p"][0]


def _no_traceback(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0
    assert "Traceback" not in page.content()


@pytest.mark.browser
@pytest.mark.slow
def test_a_quiz_through_the_proxy_survives_a_postgres_stop(on_the_deployment, browser):
    deployment, env, pg = on_the_deployment
    page = _start_quiz(browser, deployment.url, "fault-pg", "Eve")
    for done in range(4):
        _answer(page, done)
    pg.stop()
    stopped = time.monotonic()
    for done in range(4, 8):  # the quiz goes on; the answers wait
        _answer(page, done)
        page.get_by_text(re.compile(r"Saving… \d answers? waits? for the database")).wait_for()
    _no_traceback(page)
    time.sleep(max(0.0, 6 - (time.monotonic() - stopped)))  # stopped for 6 s or more
    pg.start()
    # the box retries every 2 s: it saves them and goes
    page.get_by_text("Saving…").wait_for(state="detached", timeout=30_000)
    assert stored_answers(_token(page)) == (8, 8)
    for done in range(8, 20):
        _answer(page, done)
    _no_traceback(page)
    assert stored_answers(_token(page)) == (20, 20)
    page.context.close()


@pytest.mark.browser
@pytest.mark.slow
def test_a_server_killed_mid_quiz_its_people_go_on_through_the_other(on_the_deployment, browser):
    deployment, env, pg = on_the_deployment
    page = _start_quiz(browser, deployment.url, "fault-kill", "Finn")
    for done in range(3):
        _answer(page, done)
    first = _server_of(page)
    killed = deployment.names().index(first)
    deployment.kill(killed)  # SIGKILL: no goodbye to the browser
    # the page reconnects by itself; the proxy sends it to the other server, where the quiz
    # resumes from its link at question 4
    deadline = time.time() + 90
    while _server_of(page) in ("", first) and time.time() < deadline:
        page.wait_for_timeout(500)
    assert _server_of(page) not in ("", first), _server_of(page)
    # the page reruns there by itself (rerun_after_reconnecting); a click made while it
    # still reconnects may be lost, so it is made again until the answer is stored
    token = _token(page)
    for _ in range(6):
        page.get_by_text("Question 4 of 20").wait_for(timeout=60_000)
        page.get_by_role("button", name=CLASS_NAMES[3], exact=True).click()
        try:
            page.get_by_text("Question 5 of 20").wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            assert stored_answers(token)[0] == 3  # not stored: clicked before the rerun
    assert stored_answers(token) == (4, 4)
    for done in range(4, 20):
        _answer(page, done)
    _no_traceback(page)
    assert stored_answers(_token(page)) == (20, 20)
    deployment.restart(killed)  # what serve.py's supervisor does; the proxy takes it back
    page.context.close()


@pytest.mark.browser
@pytest.mark.slow
def test_both_servers_restarted_keep_the_version_decisions_and_results(
    on_the_deployment, browser, real_dataset
):
    deployment, env, pg = on_the_deployment
    versions.activate("twoconv", RUN, actor=MACHINE_OWNER)
    store.record_decision("test", 42, "relabel", MACHINE_OWNER, new_label=6)
    y = real_dataset.y_test
    token = quiz.start("fault-restart", "Gus")
    p = quiz.progress(token, y)
    for position in range(quiz.QUESTIONS):
        quiz.answer(p, position, int(y[p.images[position]]), y)
    before = _state(env)

    for i in range(len(deployment.servers)):
        deployment.restart(i)  # SIGTERM, then started again on its port
    serve._wait_all_up(deployment.url, len(deployment.servers))
    assert _state(env) == before

    # and what the servers show: the version in use, the class view's count
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(deployment.url + "/models", wait_until="domcontentloaded")
    page.get_by_text(f"twoconv: 2 versions; in use: {RUN}").first.wait_for(timeout=120_000)
    page.goto(deployment.url + "/quiz?quiz=fault-restart", wait_until="domcontentloaded")
    click_settled(page.get_by_role("radio", name="Class view"))
    page.get_by_text("Quiz fault-restart: 1 finished").wait_for(timeout=60_000)
    _no_traceback(page)
    page.context.close()


def _state(env) -> dict:
    """What must survive a restart: the version in use (as the CLI lists it), the decisions in
    force and every stored answer."""
    listed = json.loads(run_cli("list", "--json", env=env, check=True).stdout)
    people, answers = store.quiz_rows("fault-restart")
    return {
        "in_use": {r["name"]: [v["id"] for v in r["versions"] if v["active"]] for r in listed},
        "decisions": store.current_decisions("test"),
        "people": people,
        "answers": answers,
    }
