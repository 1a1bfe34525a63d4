"""Thirty people taking the same quiz at once on one `streamlit run app.py` server, through
Streamlit's websocket protocol (bench/st_protocol.py; no browsers, so the server is what is
measured): each types a name and the code, starts, and answers the 20 questions.

Reports lost or doubled answers (counted in the database afterwards; goal: none), errors,
and the latency of an answer, from the click to the run that shows the next question (goal:
p95 <= 1 s).
"""

import asyncio
import os
import tempfile
import time
import uuid

import numpy as np
import sqlalchemy as sa
from browser import peak_memory_mib, print_load_results, streamlit_server
from st_protocol import StreamlitSession

# a fresh SQLite database, or the PostgreSQL in FMNIST_DATABASE_URL (counted by this run's code)
os.environ["FMNIST_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-quiz-")
os.environ.setdefault("FMNIST_WARM_UP", "0")

from fmnist_core.classes import CLASS_NAMES  # noqa: E402
from fmnist_core.classroom import store  # noqa: E402

PEOPLE = int(os.environ.get("PEOPLE", 30))
CODE = f"bench-{uuid.uuid4().hex[:8]}"
CLIENT_TIMEOUT = 120.0


def element(run, kind: str, label: str):
    for e in run.of_kind(kind):
        if e.label == label:
            return e
    raise RuntimeError(f"no {kind} {label!r} on the page")


def question_text(run) -> str:
    bars = run.of_kind("progress")
    return bars[0].text if bars else ""


async def person(url, k, latencies, errors):
    s = StreamlitSession(url, "quiz", timeout=CLIENT_TIMEOUT)
    rng = np.random.default_rng(k)
    try:
        run = await s.open()
        s.set_string(element(run, "text_input", "Your name").id, f"Student {k}")
        s.set_string(element(run, "text_input", "Quiz code (from your teacher)").id, CODE)
        s.press(element(run, "button", "Start the quiz").id)
        run = await s.rerun()
        for q in range(20):
            if question_text(run) != f"Question {q + 1} of 20":
                errors.append(f"person {k}: expected question {q + 1}, saw {question_text(run)!r}")
                return
            s.press(element(run, "button", CLASS_NAMES[int(rng.integers(10))]).id)
            start = time.perf_counter()
            run = await s.rerun()
            latencies.append(time.perf_counter() - start)
            errors.extend(f"person {k}, question {q + 1}: {e[:150]}" for e in run.errors())
        if not any("you got" in t for t in run.texts()):
            errors.append(f"person {k}: no score after 20 answers")
    except Exception as e:  # a timeout or a dropped socket is an error
        errors.append(f"person {k}: {type(e).__name__}: {str(e).splitlines()[0][:150]}")
    finally:
        await s.close()


async def main():
    with streamlit_server() as (url, proc):
        warm = StreamlitSession(url, "quiz", timeout=300)  # the server loads data and models
        await warm.open()
        await warm.close()
        latencies, errors = [], []
        start = time.perf_counter()
        await asyncio.gather(*(person(url, k, latencies, errors) for k in range(PEOPLE)))
        took = time.perf_counter() - start
        peak = peak_memory_mib(proc.pid)
    with store.engine().connect() as conn:
        answers = conn.execute(sa.select(sa.func.count()).select_from(store.quiz_answers)).scalar()
        distinct = conn.execute(sa.select(sa.func.count()).select_from(
            sa.select(store.quiz_answers.c.participant, store.quiz_answers.c.position)
            .distinct().subquery())).scalar()  # fmt: skip
        people = conn.execute(
            sa.select(sa.func.count()).select_from(store.quiz_participants)
        ).scalar()
    print(f"{PEOPLE} people took quiz {CODE!r} at once against one server ({took:.0f} s in all)")
    print(f"database ({store.database_url().split(':')[0]}): {people} participants, {answers} "
          f"answers, {distinct} distinct (person, question); expected {PEOPLE * 20}")  # fmt: skip
    lost, doubled = PEOPLE * 20 - distinct, answers - distinct
    print(f"lost answers: {lost}, doubled answers: {doubled} (goal: 0 and 0): "
          f"{'OK' if lost == doubled == 0 else 'FAIL'}")  # fmt: skip
    lat = np.array(latencies) * 1000
    print_load_results(lat, errors, label="answer latency",
                       what="answers, each as fast as the server allows, no time to think")  # fmt: skip
    if len(lat):
        p95 = np.percentile(lat, 95)
        print(f"p95 per answer {p95:.0f} ms (goal <= 1000 ms): {'OK' if p95 <= 1000 else 'OVER'}")
    print(f"server peak memory (VmHWM): {peak:.0f} MiB")


asyncio.run(main())
