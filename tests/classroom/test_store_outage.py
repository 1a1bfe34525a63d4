"""The store while PostgreSQL is stopped and after it is back (a throwaway cluster,
deploy/local_postgres.py): every call says the database is unavailable instead of raising
SQLAlchemy's errors, nothing half-written is left, pooled connections work again once the
server is back, and an answer sent again after a lost reply is not counted twice."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fmnist_core.classroom import store
from fmnist_core.classroom.store import StoreError, StoreUnavailable
from fmnist_core.roles import MACHINE_OWNER


@pytest.fixture()
def on_local_pg(local_pg, monkeypatch, tmp_path):
    monkeypatch.setenv("FMNIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FMNIST_DATABASE_URL", local_pg.url)
    store._engine.cache_clear()
    store.metadata.drop_all(store.engine())
    store._engine.cache_clear()
    yield local_pg
    if not local_pg.running():
        local_pg.start()
    store._engine.cache_clear()


def _count(table) -> int:
    with store.engine().connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_a_stopped_database_is_unavailable_and_works_again_once_back(on_local_pg):
    pg = on_local_pg
    store.add_participant("p1", "outage", "Ann")
    assert store.record_answer("p1", "outage", 0, 10, 3, True)
    pg.stop()  # the pool's connection is now dead, and no new one can be made
    calls = {
        "record_answer": lambda: store.record_answer("p1", "outage", 1, 11, 4, False),
        "answers_of": lambda: store.answers_of("p1"),
        "participant": lambda: store.participant("p1"),
        "quiz_rows": lambda: store.quiz_rows("outage"),
        "quiz_counts": lambda: store.quiz_counts("outage"),
        "add_participant": lambda: store.add_participant("p2", "outage", "Bob"),
        "record_decision": lambda: store.record_decision("test", 5, "keep", MACHINE_OWNER),
        "current_decisions": lambda: store.current_decisions("test"),
        "erase_quiz": lambda: store.erase_quiz("outage"),
    }
    for name, call in calls.items():
        with pytest.raises(StoreUnavailable, match="the database is not answering") as info:
            call()
        assert "psycopg" not in str(info.value), name  # one plain sentence, no driver text
        assert isinstance(info.value, StoreError)  # pages that catch StoreError still do
    pg.start()
    # the first call after the restart works (the dead pooled connection is replaced)
    assert store.record_answer("p1", "outage", 1, 11, 4, False)
    # the same answer again (a retry whose first reply was lost) is not stored twice
    assert not store.record_answer("p1", "outage", 1, 11, 4, False)
    assert sorted(store.answers_of("p1")) == [0, 1]
    assert _count(store.quiz_answers) == 2 and _count(store.quiz_participants) == 1
    assert store.quiz_counts("outage") == (1, 0)


def test_a_database_that_never_answered_is_unavailable_too(monkeypatch, tmp_path):
    monkeypatch.setenv("FMNIST_CACHE_DIR", str(tmp_path / "cache"))
    # a port nobody listens on: the engine cannot even be made
    monkeypatch.setenv("FMNIST_DATABASE_URL", "postgresql+psycopg://fmnist:x@127.0.0.1:9/none")
    store._engine.cache_clear()
    try:
        with pytest.raises(StoreUnavailable, match="Cannot open the database"):
            store.answers_of("p1")
    finally:
        store._engine.cache_clear()
