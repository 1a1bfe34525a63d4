"""Faults with a class in a quiz, nothing lost: 30 people (Streamlit's websocket protocol,
bench/st_protocol.py) take a quiz through HAProxy to two app servers on PostgreSQL
(deploy/serve.py, a throwaway cluster from deploy/local_postgres.py), each thinking about a
second per question, while

1. PostgreSQL is stopped for 15 s (OUTAGE_S) in the middle of the quiz;
2. one of the two servers is killed with SIGKILL in the middle of another quiz (and started
   again, as serve.py's supervisor does); its people reconnect through the proxy, as the
   browser does, and their quiz resumes from its link (?p=...);
3. both servers are restarted (SIGTERM, started again) after the quizzes.

Counted in SQL afterwards, per fault: answers lost (a question without its answer) and answers
doubled (two rows for one person and question). Goals: 0 and 0, no exception on any page
(a traceback), every person finishing; and after the restart the same version in use, the
same decisions and the same answers as before it.

    python bench/bench_faults.py
"""

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

import numpy as np
import sqlalchemy as sa
from browser import ROOT, deploy_module, streamlit_servers
from st_protocol import StreamlitSession
from websockets.exceptions import ConnectionClosed

PEOPLE = int(os.environ.get("PEOPLE", 30))
OUTAGE_S = float(os.environ.get("OUTAGE_S", 15))
THINK_S = float(os.environ.get("THINK_S", 1.0))

os.environ["FMNIST_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-faults-")
os.environ.setdefault("FMNIST_WARM_UP", "0")

from fmnist_core.classes import CLASS_NAMES  # noqa: E402
from fmnist_core.classroom import store  # noqa: E402
from fmnist_core.roles import MACHINE_OWNER  # noqa: E402


def element(run, kind: str, label: str):
    for e in run.of_kind(kind):
        if e.label == label:
            return e
    raise RuntimeError(f"no {kind} {label!r} on the page")


def question_number(run) -> int | None:
    bars = run.of_kind("progress")
    if not bars or not bars[0].text.startswith("Question "):
        return None
    return int(bars[0].text.split()[1])


def saving(run) -> bool:
    return any("Saving…" in t for t in run.texts())


def token_of(code: str, name: str) -> str:
    q = store.quiz_participants
    with store.engine().connect() as conn:
        return conn.execute(
            sa.select(q.c.id).where(q.c.code == code, q.c.name == name)
        ).scalar_one()


class Person:
    """One person: answers as the page asks, reconnects (as the browser does) when the socket
    drops, and waits for "Saving…" to go at the end."""

    def __init__(self, url: str, code: str, k: int, stats: dict):
        self.url, self.code, self.k, self.stats = url, code, k, stats
        self.name = f"Student {k}"
        self.rng = np.random.default_rng(k)
        self.token = ""

    def note(self, run) -> None:
        self.stats["tracebacks"] += len(run.of_kind("exception"))
        self.stats["error boxes"] += sum(1 for e in run.of_kind("alert") if e.format == 1)
        self.stats["saving shown"] += int(saving(run))

    async def reconnect(self) -> tuple[StreamlitSession, object]:
        self.stats["reconnects"] += 1
        for _attempt in range(60):  # the proxy needs a moment to notice a dead server
            s = StreamlitSession(self.url, "quiz", timeout=60,
                                 query_string=f"quiz={self.code}&p={self.token}")  # fmt: skip
            try:
                return s, await s.open()
            except (TimeoutError, OSError, ConnectionClosed):
                await s.close()
                await asyncio.sleep(1)
        raise RuntimeError(f"{self.name}: could not reconnect")

    async def take(self) -> None:
        s = StreamlitSession(self.url, "quiz", timeout=120)
        try:
            run = await s.open()
            s.set_string(element(run, "text_input", "Your name").id, self.name)
            s.set_string(element(run, "text_input", "Quiz code (from your teacher)").id, self.code)
            s.press(element(run, "button", "Start the quiz").id)
            run = await s.rerun()
            self.token = token_of(self.code, self.name)
            while True:
                self.note(run)
                q = question_number(run)
                if q is None:
                    break  # the score
                await asyncio.sleep(THINK_S * self.rng.uniform(0.5, 1.5))
                try:
                    s.press(element(run, "button", CLASS_NAMES[int(self.rng.integers(10))]).id)
                    start = time.perf_counter()
                    run = await s.rerun()
                    self.stats["latencies"].append(time.perf_counter() - start)
                except (TimeoutError, OSError, ConnectionClosed):
                    await s.close()
                    s, run = await self.reconnect()
            for _ in range(120):  # the browser's "Saving…" box reruns every 2 s
                if not saving(run):
                    break
                await asyncio.sleep(2)
                run = await s.rerun()
                self.note(run)
            if not any("you got" in t for t in run.texts()):
                self.stats["unfinished"] += 1
        except Exception as e:
            self.stats["failures"].append(f"{self.name}: {type(e).__name__}: {str(e)[:150]}")
        finally:
            await s.close()


def new_stats() -> dict:
    return {"latencies": [], "failures": [], "tracebacks": 0, "error boxes": 0,
            "saving shown": 0, "reconnects": 0, "unfinished": 0}  # fmt: skip


def counted(code: str) -> tuple[int, int, int]:
    """(people, lost, doubled) in quiz `code`, by SQL."""
    a, p = store.quiz_answers, store.quiz_participants
    with store.engine().connect() as conn:
        people = conn.execute(sa.select(sa.func.count()).where(p.c.code == code)).scalar_one()
        rows = conn.execute(sa.select(sa.func.count()).where(a.c.code == code)).scalar_one()
        distinct = conn.execute(
            sa.select(sa.func.count()).select_from(
                sa.select(a.c.participant, a.c.position).where(a.c.code == code).distinct()
                .subquery())
        ).scalar_one()  # fmt: skip
    return people, people * 20 - distinct, rows - distinct


def report(title: str, code: str, stats: dict, took: float) -> bool:
    people, lost, doubled = counted(code)
    lat = np.array(stats["latencies"]) * 1000
    ok = lost == doubled == stats["tracebacks"] == stats["unfinished"] == 0 and not stats[
        "failures"] and people == PEOPLE  # fmt: skip
    print(f"\n{title} ({took:.0f} s)")
    print(f"  {people} people; lost answers: {lost}, doubled answers: {doubled}; "
          f"tracebacks shown: {stats['tracebacks']}; error boxes: {stats['error boxes']}; "
          f"unfinished: {stats['unfinished']}: {'OK' if ok else 'FAIL'}")  # fmt: skip
    print(f"  pages that said 'Saving…': {stats['saving shown']}; reconnects: "
          f"{stats['reconnects']}; answer latency p50 {np.percentile(lat, 50):.0f} ms, "
          f"p95 {np.percentile(lat, 95):.0f} ms, max {lat.max():.0f} ms")  # fmt: skip
    for f in stats["failures"][:5]:
        print("  failure:", f)
    return ok


async def quiz_with(url: str, fault) -> tuple[str, dict, float]:
    code = f"fault-{uuid.uuid4().hex[:6]}"
    stats = new_stats()
    people = [Person(url, code, k, stats) for k in range(PEOPLE)]
    start = time.perf_counter()
    await asyncio.gather(*(p.take() for p in people), fault())
    return code, stats, time.perf_counter() - start


def snapshot(env: dict) -> dict:
    listed = json.loads(subprocess.run(
        [sys.executable, "-m", "fmnist_core", "list", "--json"], cwd=ROOT, env=env,
        capture_output=True, text=True, check=True).stdout)  # fmt: skip
    a = store.quiz_answers
    with store.engine().connect() as conn:
        answers = conn.execute(sa.select(a).order_by(a.c.id)).all()
    return {
        "in use": {r["name"]: [v["id"] for v in r["versions"] if v["active"]] for r in listed},
        "decisions": store.current_decisions("test"),
        "answers": [tuple(r) for r in answers],
    }


async def main() -> int:
    local_postgres = deploy_module("local_postgres").local_postgres
    with local_postgres() as pg:
        os.environ["FMNIST_DATABASE_URL"] = pg.url
        env = dict(os.environ)
        with streamlit_servers(2, env=env) as d:
            for server_url in d.server_urls:  # each server loads the dataset and models
                warm = StreamlitSession(server_url, "quiz", timeout=300)
                await warm.open()
                await warm.close()
            print(f"{PEOPLE} people per quiz through haproxy to 2 servers on PostgreSQL, "
                  f"about {THINK_S:.1f} s per question")  # fmt: skip
            ok = True

            async def stop_postgres():
                await asyncio.sleep(6)
                await asyncio.to_thread(pg.stop)
                await asyncio.sleep(OUTAGE_S)
                await asyncio.to_thread(pg.start)

            code, stats, took = await quiz_with(d.url, stop_postgres)
            ok &= report(f"1. PostgreSQL stopped for {OUTAGE_S:.0f} s mid-quiz", code, stats, took)

            async def kill_a_server():
                await asyncio.sleep(8)
                d.kill(0)  # SIGKILL
                await asyncio.sleep(1)
                d.restart(0, wait=False)  # as serve.py's supervisor does

            code, stats, took = await quiz_with(d.url, kill_a_server)
            ok &= report("2. one of the two servers killed (SIGKILL) mid-quiz", code, stats, took)

            store.record_decision("test", 7, "relabel", MACHINE_OWNER, new_label=6)
            before = snapshot(env)
            start = time.perf_counter()
            for i in range(len(d.servers)):
                d.restart(i)
            after = snapshot(env)
            same = before == after
            ok &= same
            print(f"\n3. both servers restarted ({time.perf_counter() - start:.0f} s): version in "
                  f"use, decisions and {len(after['answers'])} answers unchanged: "
                  f"{'OK' if same else 'FAIL'}")  # fmt: skip
        print(f"\nall faults: {'OK' if ok else 'FAIL'}")
        return 0 if ok else 1


sys.exit(asyncio.run(main()))
