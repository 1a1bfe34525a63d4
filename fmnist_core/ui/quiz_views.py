"""The Quiz page's views: start or resume, one question at a time, the person's result
against the models. (The class view is in class_views.)"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.classroom import quiz
from fmnist_core.classroom.store import StoreError, StoreUnavailable
from fmnist_core.data.gallery import png_bytes
from fmnist_core.figures.quiz import you_against_models
from fmnist_core.roles import NotAllowed, clean_person_name
from fmnist_core.ui import phone
from fmnist_core.ui.identity import class_mode, current_actor, set_name
from fmnist_core.ui.loaders import dataset_or_stop, trained_results
from fmnist_core.ui.widgets import escape_markdown

TOKEN = "quiz_participant"
WHO = "quiz_who"  # the participant's row (name, code), read once per session
SAVED = "_quiz_saved"  # {token: {position: class}}: the answers the database last returned
PENDING = "_quiz_pending"  # {token: {position: class}}: answers waiting for the database


def current_progress() -> quiz.Progress | None:
    """This tab's quiz, from the session or the link (?p=...): a refreshed or reopened tab
    resumes where it was. While the database is away, the answers last read from it and the
    ones waiting to be saved (_pending) stand in, so the quiz goes on."""
    token = st.session_state.get(TOKEN) or st.query_params.get("p")
    if not token:
        return None
    who = st.session_state.get(WHO)
    if who is not None and who["id"] != token:
        who = None
    y_test = dataset_or_stop().y_test
    try:
        found = quiz.progress(token, y_test, who)
        if found is not None and who is None:
            st.session_state[WHO] = {"id": token, "code": found.code, "name": found.name}
    except StoreUnavailable as e:
        saved = st.session_state.get(SAVED, {}).get(token)
        if who is None or saved is None:  # nothing read yet: wait for the database
            _wait_for_database(str(e))
            st.stop()
        found = quiz.Progress(token, who["code"], who["name"],
                              quiz.quiz_images(who["code"], y_test), dict(saved))  # fmt: skip
    except StoreError as e:
        st.error(str(e))
        return None
    else:
        if found is not None:
            st.session_state[SAVED] = {token: dict(found.answers)}
    if found is None:
        st.query_params.pop("p", None)
        st.session_state.pop(TOKEN, None)
        return None
    st.session_state[TOKEN] = token
    if st.query_params.get("p") != token:
        st.query_params["p"] = token
        st.query_params["quiz"] = found.code
    pending = _pending(token)
    if pending:  # answers given while the database was away: save what it takes now
        found = replace(found, answers={**pending, **found.answers})  # stored ones stand
        _flush(found, y_test)
    return found


def _pending(token: str) -> dict[int, int]:
    """This participant's answers not yet saved (question position -> class), in the order
    given; kept in the session until the database takes them."""
    return st.session_state.setdefault(PENDING, {}).setdefault(token, {})


def _flush(p: quiz.Progress, y_test) -> None:
    """Save the waiting answers, oldest first, until the database refuses again. An answer
    already stored (a save whose reply was lost) is not stored twice (quiz.answer: False)."""
    pending = _pending(p.participant)
    for position, answered in list(pending.items()):
        try:
            quiz.answer(p, position, answered, y_test)
        except StoreUnavailable:
            return
        except StoreError as e:
            st.session_state["_quiz_error"] = str(e)
        del pending[position]
        saved = st.session_state.get(SAVED, {}).get(p.participant)
        if saved is not None:
            saved.setdefault(position, answered)


def _wait_for_database(message: str) -> None:
    """The page while the database is away and nothing of this quiz was read yet: one line,
    and a try again every 3 seconds."""
    st.info(f"{message} Your quiz goes on by itself when it is back.", icon="⏳")

    @st.fragment(run_every=3)
    def retry() -> None:
        try:
            quiz.store.ping()
        except StoreError:
            return
        st.rerun()

    retry()


@st.fragment(run_every=2)
def _saving(p: quiz.Progress) -> None:
    """ "Saving…" while answers wait for the database; tries again every 2 seconds and
    refreshes the page once they are all saved."""
    pending = _pending(p.participant)
    if pending:
        _flush(p, dataset_or_stop().y_test)
    if not pending:
        st.rerun()
    n = len(pending)
    st.info(
        f"Saving… {n} answer{'s' if n > 1 else ''} wait{'' if n > 1 else 's'} for the database "
        "(it may be restarting). Keep going: your answers are kept here and saved as soon as "
        "it is back.",
        icon="⏳",
    )


def start_form() -> None:
    st.markdown(
        "Label twenty test images yourself, one click each, then see how the CNNs did on the "
        "same ones. Everyone with the same quiz code gets the same images; the **Class view** "
        "shows everyone's results."
    )
    if "quiz_code" not in st.session_state:  # a shared link (?quiz=...) fills in the code
        st.session_state["quiz_code"] = st.query_params.get("quiz", "")
    actor = current_actor()
    if "quiz_name" not in st.session_state and actor.name and actor.name != "You":
        st.session_state["quiz_name"] = actor.name  # the name this person gave once
    name_col, code_col = st.columns(2)
    name = name_col.text_input("Your name", max_chars=40, key="quiz_name")
    code = code_col.text_input(
        "Quiz code (from your teacher)", max_chars=32, key="quiz_code", placeholder="e.g. class-7b"
    )
    clicked = st.button("Start the quiz", type="primary", key="quiz_start")
    if clicked:
        try:
            student = class_mode() and not actor.is_teacher
            if student:
                name = clean_person_name(name)  # never the teacher's
            token = quiz.start(code, name)
            if student and name != actor.name:
                set_name(name)  # given once: theirs from now on (Train, Data quality)
        except StoreUnavailable as e:
            st.warning(f"{e} Nothing was saved yet: press Start again in a few seconds.")
            return
        except (quiz.QuizError, StoreError, NotAllowed) as e:
            st.error(str(e))
            return
        st.session_state[TOKEN] = token
        st.query_params["p"] = token
        st.query_params["quiz"] = quiz.normalise_code(code)
        st.rerun()


def _answer(p: quiz.Progress, position: int, answered: int) -> None:
    """One click: one stored answer (a second click on the same question changes nothing).
    While the database is away the answer waits in the session (_pending), behind any
    earlier one still waiting, and the quiz goes on."""
    pending = _pending(p.participant)
    if pending:  # keep the order: current_progress saves them, this one last
        pending.setdefault(position, answered)
        return
    try:
        quiz.answer(p, position, answered, dataset_or_stop().y_test)
    except StoreUnavailable:
        pending[position] = answered
    except StoreError as e:
        st.session_state["_quiz_error"] = str(e)


@st.cache_resource(show_spinner=False, max_entries=400)
def _question_png(index: int) -> bytes:
    """A test image enlarged with square pixels, encoded once per server (30 people see the
    same 20 images)."""
    return png_bytes(dataset_or_stop().x_test[index], scale=10)


def question(p: quiz.Progress) -> None:
    position = p.next_position
    done = len(p.answers)
    # on a phone: the picture and the ten answers on one screen, each question from the top
    phone.style(phone.QUIZ_QUESTION_CSS)
    phone.scroll_to_top(f"{p.code} {done}")
    st.progress(done / quiz.QUESTIONS, text=f"Question {done + 1} of {quiz.QUESTIONS}")
    if err := st.session_state.pop("_quiz_error", None):
        st.error(err)
    if _pending(p.participant):
        _saving(p)
    left, right = st.columns([2, 3])
    left.container(key="quiz_picture").image(
        _question_png(int(p.images[position])), width=280, caption="What is it?",
        output_format="PNG",
    )  # fmt: skip
    with right:
        st.markdown(f"**{escape_markdown(p.name)}**, quiz `{p.code}`: click the class.")
        with st.container(key="quiz_answers"):  # two columns of five on a phone
            for row in (range(0, 5), range(5, 10)):
                cols = st.columns(5)
                for col, c in zip(cols, row):
                    col.button(CLASS_NAMES[c], key=f"quiz_answer_{c}", on_click=_answer,
                               args=(p, position, c), width="stretch")  # fmt: skip
        st.caption(
            "People in Zalando's study got 83.5% of these right. Take your time: the image "
            "is all the models get too."
        )


def result(p: quiz.Progress) -> None:
    ds = dataset_or_stop()
    right = p.correct(ds.y_test)
    score = float(right.mean())
    results = trained_results()
    models = quiz.model_scores(results, p.images, ds.y_test)
    phone.scroll_to_top(f"{p.code} result")  # the score, not the last question's place
    if _pending(p.participant):
        _saving(p)
    st.success(
        f"**{escape_markdown(p.name)}, you got {int(right.sum())} of {quiz.QUESTIONS} right "
        f"({score:.0%}).** People in Zalando's study got {quiz.HUMAN_BASELINE:.1%}; the best "
        f"model here got {max(models.values()):.0%} of the same images."
    )
    st.plotly_chart(you_against_models(score, models, quiz.HUMAN_BASELINE), width="stretch")
    wrong = [i for i in range(quiz.QUESTIONS) if not right[i]]
    st.markdown(f"**The {len(wrong)} you got wrong**" if wrong else "**You got every one right.**")
    if wrong:
        st.image([ds.x_test[p.images[i]] for i in wrong], width=84, output_format="PNG",
                 caption=[f"{CLASS_NAMES[ds.y_test[p.images[i]]]}; you said "
                          f"{CLASS_NAMES[p.answers[i]]}" for i in wrong])  # fmt: skip
    fooled = []
    for i, index in enumerate(p.images):
        wrong_models = [n for n, r in results.items() if r.y_pred[index] != ds.y_test[index]]
        if wrong_models:
            fooled.append((i, index, wrong_models))
    st.markdown(f"**{len(fooled)} images fooled at least one model**")
    if fooled:
        st.image([ds.x_test[index] for _, index, _ in fooled], width=84, output_format="PNG",
                 caption=[f"{CLASS_NAMES[ds.y_test[index]]}: {len(w)} of {len(results)} models "
                          "wrong" for _, index, w in fooled])  # fmt: skip
    if st.button("Take another quiz"):
        st.session_state.pop(TOKEN, None)
        st.session_state.pop(WHO, None)
        st.query_params.pop("p", None)
        st.rerun()
