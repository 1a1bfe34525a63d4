"""What the app keeps for people: review decisions on suspect labels and quiz answers, in
one database: SQLite under the cache folder by default, PostgreSQL (or any
SQLAlchemy URL) when FMNIST_DATABASE_URL is set, so several app servers share one store.

Every write is one transaction. SQLite runs in WAL mode with a busy timeout, so concurrent
writers wait their turn instead of failing; decisions are appended, never overwritten: the
latest per image is the one in force and the history says who decided what, when.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import time
from functools import lru_cache

import sqlalchemy as sa

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.errors import FmnistError
from fmnist_core.paths import cache_dir

DECISIONS = ("keep", "relabel", "ambiguous")
SPLITS = ("train", "test")

metadata = sa.MetaData()
label_decisions = sa.Table(
    "label_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("split", sa.String(8), nullable=False),
    sa.Column("image_index", sa.Integer, nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("new_label", sa.Integer, nullable=True),
    sa.Column("reviewer", sa.String(80), nullable=False),
    sa.Column("session", sa.String(64), nullable=False, default=""),
    sa.Column("decided_utc", sa.String(32), nullable=False),
    sa.Index("ix_label_decisions_image", "split", "image_index"),
)


quiz_participants = sa.Table(
    "quiz_participants",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # a random token: the resume key
    sa.Column("code", sa.String(32), nullable=False),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("started_utc", sa.String(32), nullable=False),
    sa.Index("ix_quiz_participants_code", "code"),
)
quiz_answers = sa.Table(
    "quiz_answers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("participant", sa.String(32), sa.ForeignKey("quiz_participants.id"), nullable=False),
    sa.Column("code", sa.String(32), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # 0-19: which question
    sa.Column("image_index", sa.Integer, nullable=False),
    sa.Column("answer", sa.Integer, nullable=False),
    sa.Column("correct", sa.Boolean, nullable=False),
    sa.Column("answered_utc", sa.String(32), nullable=False),
    # one answer per question: a double click or a resent message cannot count twice
    sa.UniqueConstraint("participant", "position", name="uq_quiz_answer_once"),
    sa.Index("ix_quiz_answers_code", "code"),
)


class StoreError(FmnistError):
    """A decision that cannot be stored (bad values, or the database cannot be reached)."""


def database_url() -> str:
    return os.environ.get("FMNIST_DATABASE_URL") or f"sqlite:///{cache_dir() / 'explorer.db'}"


@lru_cache(maxsize=4)
def _engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(conn, _record) -> None:  # every connection: WAL, wait for writers
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
    else:
        engine = sa.create_engine(url, pool_pre_ping=True)
    for attempt in range(5):
        try:
            metadata.create_all(engine)  # creates what is missing
            break
        except sa.exc.DatabaseError:  # another process created it between check and create
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
    return engine


def engine() -> sa.Engine:
    try:
        return _engine(database_url())
    except sa.exc.SQLAlchemyError as e:
        raise StoreError(f"Cannot open the database {database_url()!r}: {e}") from e


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def record_decision(
    split: str,
    index: int,
    decision: str,
    reviewer: str,
    new_label: int | None = None,
    session: str = "",
) -> None:
    """Append one review decision, in its own transaction."""
    if split not in SPLITS:
        raise StoreError(f"split must be one of {SPLITS}, got {split!r}")
    if decision not in DECISIONS:
        raise StoreError(f"decision must be one of {DECISIONS}, got {decision!r}")
    if decision == "relabel" and (new_label is None or not 0 <= int(new_label) < 10):
        raise StoreError("a relabel decision needs the new label, 0-9")
    reviewer = (reviewer or "").strip()[:80] or "anonymous"
    row = dict(
        split=split, image_index=int(index), decision=decision,
        new_label=int(new_label) if decision == "relabel" and new_label is not None else None,
        reviewer=reviewer, session=session[:64], decided_utc=_now(),
    )  # fmt: skip
    try:
        with engine().begin() as conn:
            conn.execute(label_decisions.insert().values(**row))
    except sa.exc.SQLAlchemyError as e:
        raise StoreError(f"The decision was not saved: {e}") from e


def current_decisions(split: str) -> dict[int, dict]:
    """The decision in force per image (the latest), with who made it and when."""
    latest = (
        sa.select(sa.func.max(label_decisions.c.id))
        .where(label_decisions.c.split == split)
        .group_by(label_decisions.c.image_index)
    )
    query = sa.select(label_decisions).where(label_decisions.c.id.in_(latest))
    with engine().connect() as conn:
        return {row.image_index: row._asdict() for row in conn.execute(query)}


def decisions_csv(split: str, given_labels=None) -> str:
    """The decisions in force as CSV: index, given label, decision, new label, who, when."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        ["split", "index", "given_label", "decision", "new_label", "reviewer", "decided_utc"]
    )
    for index, row in sorted(current_decisions(split).items()):
        given = "" if given_labels is None else CLASS_NAMES[int(given_labels[index])]
        new = "" if row["new_label"] is None else CLASS_NAMES[row["new_label"]]
        w.writerow([split, index, given, row["decision"], new, row["reviewer"], row["decided_utc"]])
    return buf.getvalue()


# --------------------------------------------------------------------------- the quiz


def add_participant(participant: str, code: str, name: str) -> None:
    try:
        with engine().begin() as conn:
            conn.execute(quiz_participants.insert().values(
                id=participant, code=code, name=name[:80], started_utc=_now()))  # fmt: skip
    except sa.exc.SQLAlchemyError as e:
        raise StoreError(f"Could not start the quiz: {e}") from e


def participant(participant_id: str) -> dict | None:
    query = sa.select(quiz_participants).where(quiz_participants.c.id == participant_id)
    with engine().connect() as conn:
        row = conn.execute(query).first()
    return row._asdict() if row else None


def record_answer(
    participant_id: str, code: str, position: int, image_index: int, answer: int, correct: bool
) -> bool:
    """Store one answer in its own transaction; False if that question was answered before
    (the first answer stands)."""
    row = dict(participant=participant_id, code=code, position=int(position),
               image_index=int(image_index), answer=int(answer), correct=bool(correct),
               answered_utc=_now())  # fmt: skip
    try:
        with engine().begin() as conn:
            conn.execute(quiz_answers.insert().values(**row))
        return True
    except sa.exc.IntegrityError:
        return False
    except sa.exc.SQLAlchemyError as e:
        raise StoreError(f"The answer was not saved: {e}") from e


def answers_of(participant_id: str) -> dict[int, dict]:
    """A participant's answers by question position."""
    query = sa.select(quiz_answers).where(quiz_answers.c.participant == participant_id)
    with engine().connect() as conn:
        return {row.position: row._asdict() for row in conn.execute(query)}


def quiz_rows(code: str) -> tuple[list[dict], list[dict]]:
    """Everyone who took the quiz `code`, and every answer given in it."""
    people = sa.select(quiz_participants).where(quiz_participants.c.code == code)
    answers = sa.select(quiz_answers).where(quiz_answers.c.code == code).order_by(quiz_answers.c.id)
    with engine().connect() as conn:
        return ([r._asdict() for r in conn.execute(people)],
                [r._asdict() for r in conn.execute(answers)])  # fmt: skip
