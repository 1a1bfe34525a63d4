"""The classroom quiz: people against the models on the same 20 test images.

A quiz code (shared by the teacher) picks the images: two of each class, drawn from the test
set with the code as the seed, in a shuffled order; the same code gives everyone the same
quiz. Answers are stored one row each (store.py); every score here is a count of those rows.
Within one quiz code a name is one person's (case and spaces aside). In class mode only the
teacher sees who answered what, and erases a quiz (roles.py): a student's results carry no
names.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
from dataclasses import dataclass

import numpy as np

from fmnist_core.classes import CLASS_NAMES, NUM_CLASSES
from fmnist_core.classroom import store
from fmnist_core.errors import FmnistError
from fmnist_core.roles import TEACHER_ONLY, Actor, NotAllowed, require_teacher

PER_CLASS = 2
QUESTIONS = PER_CLASS * NUM_CLASSES
HUMAN_BASELINE = 0.835  # Zalando's human evaluation of Fashion-MNIST
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$")


class QuizError(FmnistError):
    """A quiz code or name that cannot be used."""


NameTaken = store.NameTaken  # a name already taken in the quiz (a StoreError, an FmnistError)


def normalise_code(code: str) -> str:
    """A quiz code as stored: lower case, 3-32 letters, digits and inner hyphens."""
    code = (code or "").strip().lower().replace(" ", "-")
    if not _CODE.match(code):
        raise QuizError(
            "A quiz code is 3 to 32 letters, digits or hyphens (not at either end), "
            "for example 'class-7b'."
        )
    return code


_IMAGES: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # code -> (labels used, images)


def quiz_images(code: str, y_test: np.ndarray) -> np.ndarray:
    """The 20 test indices of quiz `code`: two of each class, in a shuffled order (worked out
    once per code and label array: every answer of every student asks for them)."""
    code = normalise_code(code)
    kept = _IMAGES.get(code)
    if kept is not None and kept[0] is y_test:
        return kept[1]
    images = _draw_images(code, y_test)
    images.flags.writeable = False  # shared between sessions
    if len(_IMAGES) > 1000:
        _IMAGES.clear()
    _IMAGES[code] = (y_test, images)
    return images


def _draw_images(code: str, y_test: np.ndarray) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(code.encode(), digest_size=8).digest())
    rng = np.random.default_rng(seed)
    picks = np.concatenate([
        rng.choice(np.flatnonzero(y_test == c), PER_CLASS, replace=False) for c in range(NUM_CLASSES)
    ])  # fmt: skip
    return rng.permutation(picks)


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())[:80]
    if not name:
        raise QuizError("Type your name (any name: the class sees it beside your score).")
    return name


def start(code: str, name: str) -> str:
    """A new participant in quiz `code`; returns the token that resumes it. NameTaken
    ("Ann is taken; add an initial.") when someone in this quiz has the name already."""
    token = uuid.uuid4().hex
    store.add_participant(token, normalise_code(code), clean_name(name))
    return token


@dataclass(frozen=True)
class Progress:
    participant: str
    code: str
    name: str
    images: np.ndarray  # the 20 test indices
    answers: dict[int, int]  # position -> answered class

    @property
    def next_position(self) -> int | None:
        for p in range(len(self.images)):
            if p not in self.answers:
                return p
        return None

    @property
    def finished(self) -> bool:
        return self.next_position is None

    def correct(self, y_test: np.ndarray) -> np.ndarray:
        """(answered,) right or wrong, in question order."""
        return np.array([self.answers[p] == y_test[self.images[p]] for p in sorted(self.answers)])


def progress(participant_id: str, y_test: np.ndarray, who: dict | None = None) -> Progress | None:
    """Where a participant is (None for an unknown token): the quiz resumes from here.
    `who`: the participant's row when the caller kept it (it never changes)."""
    who = who or store.participant(participant_id)
    if who is None:
        return None
    answers = {p: row["answer"] for p, row in store.answers_of(participant_id).items()}
    return Progress(participant_id, who["code"], who["name"], quiz_images(who["code"], y_test),
                    answers)  # fmt: skip


def answer(p: Progress, position: int, answered: int, y_test: np.ndarray) -> bool:
    """Record the answer to question `position`; False if it was answered already."""
    if not 0 <= position < len(p.images) or not 0 <= answered < NUM_CLASSES:
        raise QuizError(f"No question {position} or class {answered}.")
    index = int(p.images[position])
    return store.record_answer(p.participant, p.code, position, index, answered,
                               answered == int(y_test[index]))  # fmt: skip


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ClassResults:
    code: str
    images: np.ndarray  # (20,) test indices
    names: list[str] | None  # who finished, in the order they started; None for a student
    answers: np.ndarray  # (finished, 20) their answers by question, in that order
    in_progress: int  # participants who started and have not finished

    @property
    def finished(self) -> int:
        return len(self.answers)

    def people(self, y_test: np.ndarray) -> list[tuple[str, float, np.ndarray]]:
        """(name, share right, their 20 answers) per finished participant, in the order they
        started: the teacher's view. NotAllowed for results read by a student."""
        if self.names is None:
            raise NotAllowed(TEACHER_ONLY["quiz_names"])
        return list(zip(self.names, self.scores(y_test).tolist(), self.answers, strict=True))

    def scores(self, y_test: np.ndarray) -> np.ndarray:
        """Each finished participant's share right."""
        if not len(self.answers):
            return np.zeros(0)
        return (self.answers == y_test[self.images][None]).mean(axis=1)

    def per_image(self, y_test: np.ndarray) -> np.ndarray:
        """The share of the class that got each question right."""
        if not len(self.answers):
            return np.full(len(self.images), np.nan)
        return (self.answers == y_test[self.images][None]).mean(axis=0)

    def confusion(self, y_test: np.ndarray) -> np.ndarray:
        """(true, answered) counts over every finished answer."""
        truth = np.broadcast_to(y_test[self.images][None], self.answers.shape)
        cm = np.zeros((NUM_CLASSES, NUM_CLASSES), int)
        np.add.at(cm, (truth.ravel(), self.answers.ravel()), 1)
        return cm

    def most_common_answer(self, position: int) -> tuple[int, int]:
        counts = np.bincount(self.answers[:, position], minlength=NUM_CLASSES)
        return int(counts.argmax()), int(counts.max())


def class_results(code: str, y_test: np.ndarray, actor: Actor) -> ClassResults:
    """Every finished result of quiz `code`, counted from the stored answers; the names only
    for the teacher (`names` is None for a student: never sent to their page)."""
    code = normalise_code(code)
    people, rows = store.quiz_rows(code)
    images = quiz_images(code, y_test)
    by_person: dict[str, dict[int, int]] = {}
    for r in rows:
        by_person.setdefault(r["participant"], {})[r["position"]] = r["answer"]
    names, answers, waiting = [], [], 0
    for person in sorted(people, key=lambda p: p["started_utc"]):
        given = by_person.get(person["id"], {})
        if len(given) == QUESTIONS:
            names.append(person["name"])
            answers.append([given[p] for p in range(QUESTIONS)])
        else:
            waiting += 1
    matrix = np.array(answers, dtype=int).reshape(-1, QUESTIONS)
    return ClassResults(code, images, names if actor.is_teacher else None, matrix, waiting)


def results_csv(code: str, y_test: np.ndarray, actor: Actor) -> str:
    """One row per stored answer of quiz `code`, with names: the teacher's only."""
    require_teacher(actor, "quiz_names")
    code = normalise_code(code)
    people, rows = store.quiz_rows(code)
    names = {p["id"]: p["name"] for p in people}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["code", "name", "participant", "question", "test_index", "true_class",
                "answer", "correct", "answered_utc"])  # fmt: skip
    for r in rows:
        w.writerow([code, names.get(r["participant"], ""), r["participant"][:8], r["position"] + 1,
                    r["image_index"], CLASS_NAMES[int(y_test[r["image_index"]])],
                    CLASS_NAMES[r["answer"]], int(r["correct"]), r["answered_utc"]])  # fmt: skip
    return buf.getvalue()


def counts(code: str) -> tuple[int, int]:
    """(joined, finished) in quiz `code`: no names, anyone may see them."""
    return store.quiz_counts(normalise_code(code), QUESTIONS)


def erase(code: str, actor: Actor) -> int:
    """Delete every answer and participant of quiz `code` (the teacher only); returns how many
    participants were removed. The code can be used afresh."""
    require_teacher(actor, "erase_quiz")
    return store.erase_quiz(normalise_code(code))


def model_scores(results: dict, images: np.ndarray, y_test: np.ndarray) -> dict[str, float]:
    """Each model's share right on the quiz's images (from its stored test predictions)."""
    truth = y_test[images]
    return {name: float((r.y_pred[images] == truth).mean()) for name, r in results.items()}
