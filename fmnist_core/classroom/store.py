"""What the app keeps for people: review decisions on suspect labels and quiz answers, in
one database: SQLite under the cache folder by default, PostgreSQL (or any
SQLAlchemy URL) when FMNIST_DATABASE_URL is set, so several app servers share one store.

Every write is one transaction. SQLite runs in WAL mode with a busy timeout, so concurrent
writers wait their turn instead of failing; decisions are appended, never overwritten: the
latest settled one per image is the one in force and the history says who decided what, when.
A teacher's decision (or one from before roles, `role` NULL) settles an image; a student's is a
proposal, shown beside the settled one until the teacher decides (roles.py).

A database that cannot be reached (PostgreSQL stopped or restarting) raises StoreUnavailable:
nothing was written, and the same call can be made again. Pooled connections are checked
before use (`pool_pre_ping`), so the first call after the database is back works. A retried
answer cannot count twice: one answer per person and question is a unique constraint.

A database made by an earlier version gets the columns and index added since then, once, when
the engine is created (`_migrate`): safe with several processes doing it at once.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import sqlalchemy as sa

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.errors import FmnistError
from fmnist_core.paths import cache_dir
from fmnist_core.roles import STUDENT, TEACHER, Actor

DECISIONS = ("keep", "relabel", "ambiguous")
SPLITS = ("train", "test")

NAME_INDEX = "uq_quiz_participants_code_name"
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
    # "teacher" settles, "student" proposes; NULL: a row from before roles (settled)
    sa.Column("role", sa.String(16), nullable=True),
    sa.Index("ix_label_decisions_image", "split", "image_index"),
)


quiz_participants = sa.Table(
    "quiz_participants",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # a random token: the resume key
    sa.Column("code", sa.String(32), nullable=False),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("started_utc", sa.String(32), nullable=False),
    # the name as compared (name_key()): one person per name and code; NULL in older rows
    sa.Column("name_key", sa.String(160), nullable=True),
    sa.Index("ix_quiz_participants_code", "code"),
    sa.Index(NAME_INDEX, "code", "name_key", unique=True),
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


class NameTaken(StoreError):
    """Someone in the same quiz already has this name."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now (stopped, restarting, the network): nothing
    was written; the same call can be tried again later."""


UNAVAILABLE = "the database is not answering (it may be restarting)"


def _failure(e: sa.exc.SQLAlchemyError, what: str) -> StoreError:
    """The error to raise for `e`: StoreUnavailable when the database could not be reached or
    dropped the connection (worth retrying), StoreError otherwise."""
    if isinstance(e, sa.exc.OperationalError | sa.exc.InterfaceError) or getattr(
        e, "connection_invalidated", False
    ):
        return StoreUnavailable(f"{what}: {UNAVAILABLE}.")
    return StoreError(f"{what}: {e}")


@contextmanager
def _reading(what: str) -> Iterator[sa.Connection]:
    """A connection for reads; StoreUnavailable/StoreError instead of SQLAlchemy's errors."""
    try:
        with engine().connect() as conn:
            yield conn
    except sa.exc.SQLAlchemyError as e:
        raise _failure(e, what) from e


def name_key(name: str) -> str:
    """A quiz name as compared: case and runs of spaces do not make another person."""
    return " ".join((name or "").split()).casefold()[:160]


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
            _migrate(engine)  # and brings an older database up to date
            break
        except sa.exc.DatabaseError:  # another process created it between check and create
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
    return engine


def _migrate(engine: sa.Engine) -> None:
    """Add what an older database lacks: label_decisions.role, quiz_participants.name_key
    (filled in for older rows) and the unique index on (code, name_key). Two processes may do
    this at once: a step the other one did first fails here, and is then found done. A
    database that already holds two people of one name in one quiz cannot get the index:
    add_participant's check inside its transaction stands in for it."""
    _add_column(engine, "label_decisions", "role", "VARCHAR(16)")
    _add_column(engine, "quiz_participants", "name_key", "VARCHAR(160)")
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(quiz_participants.c.id, quiz_participants.c.name).where(
                quiz_participants.c.name_key.is_(None)
            )
        ).all()
        for pid, name in rows:
            conn.execute(
                quiz_participants.update()
                .where(quiz_participants.c.id == pid)
                .values(name_key=name_key(name))
            )
    if NAME_INDEX in {ix["name"] for ix in sa.inspect(engine).get_indexes("quiz_participants")}:
        return
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                f"CREATE UNIQUE INDEX IF NOT EXISTS {NAME_INDEX} "
                "ON quiz_participants (code, name_key)"
            )
    except sa.exc.IntegrityError:
        pass  # duplicates from before: the check in add_participant stands in
    except sa.exc.DatabaseError:  # made by another process meanwhile?
        if NAME_INDEX not in {
            ix["name"] for ix in sa.inspect(engine).get_indexes("quiz_participants")
        }:
            raise


def _add_column(engine: sa.Engine, table: str, column: str, sql_type: str) -> None:
    if column in {c["name"] for c in sa.inspect(engine).get_columns(table)}:
        return
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
    except sa.exc.DatabaseError:  # another process added it first
        if column not in {c["name"] for c in sa.inspect(engine).get_columns(table)}:
            raise


def engine() -> sa.Engine:
    try:
        return _engine(database_url())
    except sa.exc.SQLAlchemyError as e:
        if isinstance(_failure(e, ""), StoreUnavailable):
            raise StoreUnavailable(f"Cannot open the database: {UNAVAILABLE}.") from e
        raise StoreError(f"Cannot open the database {database_url()!r}: {e}") from e


def ping() -> None:
    """One round trip to the database: StoreUnavailable while it cannot be reached."""
    with _reading("The database") as conn:
        conn.execute(sa.select(1))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def record_decision(
    split: str, index: int, decision: str, actor: Actor, new_label: int | None = None
) -> None:
    """Append one review decision by `actor`, in its own transaction: the teacher's settles
    the image for the team, a student's is a proposal (proposals())."""
    if split not in SPLITS:
        raise StoreError(f"split must be one of {SPLITS}, got {split!r}")
    if decision not in DECISIONS:
        raise StoreError(f"decision must be one of {DECISIONS}, got {decision!r}")
    if decision == "relabel" and (new_label is None or not 0 <= int(new_label) < 10):
        raise StoreError("a relabel decision needs the new label, 0-9")
    reviewer = (actor.name or "").strip()[:80] or "anonymous"
    row = dict(
        split=split, image_index=int(index), decision=decision,
        new_label=int(new_label) if decision == "relabel" and new_label is not None else None,
        reviewer=reviewer, session=(actor.id or "")[:64], decided_utc=_now(),
        role=TEACHER if actor.is_teacher else STUDENT,
    )  # fmt: skip
    try:
        with engine().begin() as conn:
            conn.execute(label_decisions.insert().values(**row))
    except sa.exc.SQLAlchemyError as e:
        raise _failure(e, "The decision was not saved") from e


def _settles():
    """A row that settles its image: the teacher's, or one from before roles."""
    return sa.or_(label_decisions.c.role == TEACHER, label_decisions.c.role.is_(None))


def current_decisions(split: str) -> dict[int, dict]:
    """The settled decision per image (the latest by the teacher, or from before roles), with
    who made it and when. Students' proposals are not among them (proposals())."""
    latest = (
        sa.select(sa.func.max(label_decisions.c.id))
        .where(label_decisions.c.split == split, _settles())
        .group_by(label_decisions.c.image_index)
    )
    query = sa.select(label_decisions).where(label_decisions.c.id.in_(latest))
    with _reading("Cannot read the decisions") as conn:
        return {row.image_index: row._asdict() for row in conn.execute(query)}


def proposals(split: str) -> dict[int, list[dict]]:
    """Students' decisions not yet answered by a settled one, per image, oldest first: those
    made after the image's settled decision (all of them when none is settled)."""
    settled = current_decisions(split)
    query = (
        sa.select(label_decisions)
        .where(label_decisions.c.split == split, label_decisions.c.role == STUDENT)
        .order_by(label_decisions.c.id)
    )
    out: dict[int, list[dict]] = {}
    with _reading("Cannot read the proposals") as conn:
        for row in conn.execute(query):
            if row.id > settled.get(row.image_index, {}).get("id", 0):
                out.setdefault(row.image_index, []).append(row._asdict())
    return out


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
    """One new person in quiz `code`; NameTaken if someone there already has this name (case
    and spaces aside). Two people starting with one name at once: exactly one gets it (the
    unique index; the count inside the transaction where an old database lacks the index)."""
    name = name[:80]
    try:
        with engine().begin() as conn:
            conn.execute(quiz_participants.insert().values(
                id=participant, code=code, name=name, started_utc=_now(),
                name_key=name_key(name)))  # fmt: skip
            same = conn.execute(
                sa.select(sa.func.count())
                .select_from(quiz_participants)
                .where(
                    quiz_participants.c.code == code,
                    quiz_participants.c.name_key == name_key(name),
                )
            ).scalar_one()
            if same > 1:  # raised inside the transaction: the row is not kept
                raise NameTaken(f"{name} is taken; add an initial.")
    except sa.exc.IntegrityError as e:
        if _name_known(code, name):
            raise NameTaken(f"{name} is taken; add an initial.") from e
        raise StoreError(f"Could not start the quiz: {e}") from e
    except sa.exc.SQLAlchemyError as e:
        raise _failure(e, "Could not start the quiz") from e


def _name_known(code: str, name: str) -> bool:
    query = sa.select(quiz_participants.c.id).where(
        quiz_participants.c.code == code, quiz_participants.c.name_key == name_key(name)
    )
    with _reading("Could not start the quiz") as conn:
        return conn.execute(query.limit(1)).first() is not None


def participant(participant_id: str) -> dict | None:
    query = sa.select(quiz_participants).where(quiz_participants.c.id == participant_id)
    with _reading("Cannot read the quiz") as conn:
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
        raise _failure(e, "The answer was not saved") from e


def answers_of(participant_id: str) -> dict[int, dict]:
    """A participant's answers by question position."""
    query = sa.select(quiz_answers).where(quiz_answers.c.participant == participant_id)
    with _reading("Cannot read the answers") as conn:
        return {row.position: row._asdict() for row in conn.execute(query)}


def quiz_rows(code: str) -> tuple[list[dict], list[dict]]:
    """Everyone who took the quiz `code`, and every answer given in it."""
    people = sa.select(quiz_participants).where(quiz_participants.c.code == code)
    answers = sa.select(quiz_answers).where(quiz_answers.c.code == code).order_by(quiz_answers.c.id)
    with _reading("Cannot read the quiz's results") as conn:
        return ([r._asdict() for r in conn.execute(people)],
                [r._asdict() for r in conn.execute(answers)])  # fmt: skip


def quiz_counts(code: str, questions: int = 20) -> tuple[int, int]:
    """(joined, finished) in quiz `code`: people who started it, and those who answered all
    `questions`."""
    answered = (
        sa.select(quiz_answers.c.participant)
        .where(quiz_answers.c.code == code)
        .group_by(quiz_answers.c.participant)
        .having(sa.func.count() >= questions)
        .subquery()
    )
    joined = sa.select(sa.func.count()).select_from(quiz_participants)
    with _reading("Cannot count the quiz's people") as conn:
        n = conn.execute(joined.where(quiz_participants.c.code == code)).scalar_one()
        done = conn.execute(sa.select(sa.func.count()).select_from(answered)).scalar_one()
    return int(n), int(done)


def erase_quiz(code: str) -> int:
    """Delete every answer and participant of quiz `code` in one transaction; returns how
    many participants were removed."""
    try:
        with engine().begin() as conn:
            conn.execute(quiz_answers.delete().where(quiz_answers.c.code == code))
            gone = conn.execute(quiz_participants.delete().where(quiz_participants.c.code == code))
        return int(gone.rowcount or 0)
    except sa.exc.SQLAlchemyError as e:
        raise _failure(e, "The quiz was not erased") from e
