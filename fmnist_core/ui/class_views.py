"""The Quiz page's class view: everyone's results of one quiz, live while people finish.

Everyone sees the class as a whole (the scores' histogram, the averages, the hardest images,
the confusion matrices); only the teacher sees names, each person's answers and the CSV
(students' pages are never sent them). The teacher also gets the projector mode (the quiz's
QR code and link in large type, live counts) and the teacher tools (erase the quiz, reset the
class demo). In personal mode the user is the teacher.
"""

from __future__ import annotations

import html

import numpy as np
import streamlit as st
from streamlit import config as st_config

from fmnist_core import versions
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.classroom import join, quiz
from fmnist_core.classroom.store import StoreError, StoreUnavailable
from fmnist_core.errors import FmnistError
from fmnist_core.figures.confusion import confusion_figure
from fmnist_core.figures.quiz import class_histogram
from fmnist_core.figures.style import PALETTE
from fmnist_core.roles import TEACHER_ONLY
from fmnist_core.ui.identity import current_actor, teacher_only_note
from fmnist_core.ui.loaders import dataset_or_stop, trained_results
from fmnist_core.ui.quiz_views import TOKEN, WHO

TOOLS_MESSAGE = "_class_tools_message"  # session state: (kind, text) after a teacher tool ran
ERASE_SURE = "class_erase_sure"
RESET_SURE = "class_reset_sure"


def _my_score(res: quiz.ClassResults, y_test: np.ndarray) -> float | None:
    """This tab's own score in the quiz shown, when it took it and finished."""
    token = st.session_state.get(TOKEN)
    if not token:
        return None
    who = st.session_state.get(WHO)
    try:
        mine = quiz.progress(token, y_test, who if who and who.get("id") == token else None)
    except StoreError:
        return None
    if mine is None or mine.code != res.code or not mine.finished:
        return None
    return float(mine.correct(y_test).mean())


def class_view(code: str, *, on_projector: bool = False) -> None:
    """Every finished result of the quiz, with the models on the same images; names, each
    person's answers and the CSV for the teacher only, and never on the projector."""
    ds = dataset_or_stop()
    actor = current_actor()
    try:
        res = quiz.class_results(code, ds.y_test, actor)
    except StoreUnavailable as e:  # the live view tries again in a few seconds
        st.warning(f"{e} The results come back by themselves.", icon="⏳")
        return
    except (quiz.QuizError, StoreError) as e:
        st.error(str(e))
        return
    results = trained_results()
    models = quiz.model_scores(results, res.images, ds.y_test)
    scores = res.scores(ds.y_test)
    waiting = f"; {res.in_progress} still answering" if res.in_progress else ""
    if not len(scores):
        st.info(f"Nobody has finished quiz `{res.code}` yet{waiting}.")
        return
    st.markdown(
        f"**Quiz `{res.code}`: {len(scores)} finished{waiting}.** The class averaged "
        f"{scores.mean():.0%} (median {np.median(scores):.0%}); people in Zalando's study "
        f"{quiz.HUMAN_BASELINE:.1%}; the best model {max(models.values()):.0%}."
    )
    histogram = class_histogram(scores, models, quiz.HUMAN_BASELINE)
    mine = None if on_projector else _my_score(res, ds.y_test)
    if mine is not None:  # this person's own score, marked for them only
        histogram.add_vline(
            x=mine, line=dict(color=PALETTE[3], width=3), annotation_text=f"you: {mine:.0%}",
            annotation_position="bottom right", annotation_font=dict(color=PALETTE[3], size=13),
        )  # fmt: skip
    st.plotly_chart(histogram, width="stretch", key="quiz_class_histogram")
    per_image = res.per_image(ds.y_test)
    hardest = np.argsort(per_image, kind="stable")[:5]
    st.markdown("**The images the class found hardest**")
    captions = []
    for i in hardest:
        answer, count = res.most_common_answer(int(i))
        truth = CLASS_NAMES[ds.y_test[res.images[i]]]
        captions.append(f"{truth}: {per_image[i]:.0%} right; most said {CLASS_NAMES[answer]} "
                        f"({count})")  # fmt: skip
    st.image([ds.x_test[res.images[i]] for i in hardest], width=96, caption=captions,
             output_format="PNG")  # fmt: skip
    best = max(models, key=lambda n: models[n])
    truth = ds.y_test[res.images]
    model_cm = np.zeros((10, 10), int)
    np.add.at(model_cm, (truth, results[best].y_pred[res.images]), 1)
    left, right = st.columns(2)
    cfg = {"displayModeBar": False}
    # at their own size (the cells are markers in pixels): two fit side by side at 1400 px
    left.plotly_chart(confusion_figure(res.confusion(ds.y_test), False, title="The class's answers",
                                       size=480), config=cfg, key="quiz_class_cm", width="content")  # fmt: skip
    right.plotly_chart(confusion_figure(model_cm, False, title=f"{best} on the same images",
                                        size=480), config=cfg, key="quiz_model_cm", width="content")  # fmt: skip
    if on_projector:
        return
    if res.names is None:
        teacher_only_note("quiz_names")
        return
    _everyone(res, ds.y_test, scores)


def _everyone(res: quiz.ClassResults, y_test: np.ndarray, scores: np.ndarray) -> None:
    """The teacher's table: each person's name, score and every question right or wrong;
    and every answer as CSV."""
    assert res.names is not None
    truth = y_test[res.images]
    questions = [f"Q{i + 1}" for i in range(len(res.images))]
    rows = [
        {"Name": name, "Score": f"{score:.0%}",
         **{q: "✓" if a == t else "✗" for q, a, t in zip(questions, answers, truth)}}
        for name, score, answers in zip(res.names, scores, res.answers)
    ]  # fmt: skip
    st.markdown(f"**Everyone's answers** ({len(rows)} finished, in the order they started)")
    st.dataframe(
        rows, hide_index=True, width="stretch", key="quiz_people",
        column_config={q: st.column_config.TextColumn(
            q, width=34, help=f"Question {i + 1}: {CLASS_NAMES[int(truth[i])]}",
        ) for i, q in enumerate(questions)},
    )  # fmt: skip
    actor = current_actor()
    st.download_button(
        "Every answer (CSV)", lambda: quiz.results_csv(res.code, y_test, actor),  # on the click
        f"quiz-{res.code}.csv",
        "text/csv", key="quiz_csv",
    )  # fmt: skip


# --------------------------------------------------------------------------- projector


def class_base_url() -> str:
    """The app's address as the class reaches it: browser.serverAddress when set, else what
    the teacher's browser shows unless that is localhost, else this machine's LAN address
    (with server.port and server.baseUrlPath)."""
    address = None
    port = int(st_config.get_option("server.port"))
    if st_config.is_manually_set("browser.serverAddress"):
        address = str(st_config.get_option("browser.serverAddress") or "") or None
        port = int(st_config.get_option("browser.serverPort"))
    try:
        seen = st.context.url
    except (AttributeError, RuntimeError):  # no browser (bare mode, some tests)
        seen = None
    return join.base_url(seen, server_address=address, port=port,
                         base_path=str(st_config.get_option("server.baseUrlPath") or ""))  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=32)
def _qr_png(link: str) -> bytes:
    return join.qr_png(link, scale=12)


_BIG = "font-size:{size};line-height:1.15;font-weight:{weight};margin:0 0 0.4rem 0;{extra}"


def _big(text: str, size: str, weight: int = 600, extra: str = "") -> str:
    style = _BIG.format(size=size, weight=weight, extra=extra)
    return f'<p style="{style}">{text}</p>'


# the projector's screen: no sidebar, less space above the title, and a QR code as large as
# the screen's height allows (the whole host screen fits in 1280x720)
_PROJECTOR_CSS = """<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] {display: none;}
.stMainBlockContainer {padding-top: 2rem;}
.st-key-quiz_qr img {width: min(100%, 62vh) !important; height: auto; image-rendering: pixelated;}
.st-key-quiz_qr [data-testid="stImage"] {align-items: center;}
</style>"""


def projector(code: str, *, live: bool = True) -> None:
    """The host screen: the quiz's QR code and link in large type, and how many people
    joined and finished (every 2 seconds while `live`)."""
    try:
        code = quiz.normalise_code(code)
    except quiz.QuizError as e:
        st.error(str(e))
        return
    link = join.join_link(class_base_url(), code)
    st.html(_PROJECTOR_CSS)
    qr_col, text_col = st.columns(2, vertical_alignment="center", gap="large")
    with qr_col.container(key="quiz_qr"):
        st.image(_qr_png(link), width="stretch", caption=None, output_format="PNG")
    # the link breaks after the address, not inside a word
    shown = html.escape(join.short_link(link)).replace("/quiz?", "<wbr>/quiz?", 1)
    with text_col:
        st.markdown(
            _big("Scan the code, or open", "clamp(1.4rem, 2.2vw, 2.2rem)", 500)
            + _big(shown, "clamp(1.8rem, 3.1vw, 3.4rem)", 700, "overflow-wrap:anywhere")
            + _big(f"Quiz code: <b>{html.escape(code)}</b>", "clamp(1.6rem, 2.7vw, 2.9rem)", 500),
            unsafe_allow_html=True,
        )  # fmt: skip

        @st.fragment(run_every=2 if live else None)
        def counts() -> None:
            try:
                joined, finished = quiz.counts(code)
            except StoreUnavailable as e:
                st.warning(str(e), icon="⏳")
                return
            except StoreError as e:
                st.error(str(e))
                return
            st.markdown(
                _big(f"{joined} joined &nbsp;·&nbsp; {finished} finished", "3.2rem", 700,
                     "margin-top:1rem"),
                unsafe_allow_html=True,
            )  # fmt: skip

        counts()


# --------------------------------------------------------------------------- teacher tools


def _say(kind: str, text: str) -> None:
    st.session_state[TOOLS_MESSAGE] = (kind, text)


def _erase(code: str) -> None:
    st.session_state[ERASE_SURE] = False
    try:
        removed = quiz.erase(code, current_actor())
    except FmnistError as e:  # NotAllowed, QuizError, StoreError
        _say("error", str(e))
        return
    _say("success", f"Quiz `{code}` erased: {removed} people's answers are gone; the code can "
                    "be used afresh.")  # fmt: skip


def _reset() -> None:
    st.session_state[RESET_SURE] = False
    try:
        changed = versions.reset_to_shipped(actor=current_actor())
    except FmnistError as e:  # NotAllowed, VersionError
        _say("error", str(e))
        return
    names = ", ".join(name for name, _ in changed) or "nothing to change"
    _say("success", f"The class demo is reset: every model is on its shipped version ({names}).")


def teacher_tools(code: str) -> None:
    """Erase this quiz's results; reset the class demo (every model back to its shipped
    version). Each after a confirmation that says what changes; the teacher only."""
    if not current_actor().is_teacher:
        st.caption(" ".join(TEACHER_ONLY[a].replace("In class mode only", "Only")
                            for a in ("erase_quiz", "reset_demo")))  # fmt: skip
        return
    if said := st.session_state.pop(TOOLS_MESSAGE, None):
        (st.success if said[0] == "success" else st.error)(said[1])
    with st.expander("Teacher tools: erase this quiz's results, reset the class demo"):
        st.markdown("**Erase this quiz's results**")
        try:
            code = quiz.normalise_code(code)
            joined, finished = quiz.counts(code)
        except (quiz.QuizError, StoreError):
            st.caption("Type a quiz code above to erase its results.")
        else:
            if not joined:
                st.caption(f"Quiz `{code}` has no results to erase.")
            else:
                sure = st.checkbox(
                    f"Yes, erase every answer of quiz `{code}`: {joined} people, {finished} "
                    "of them finished. This cannot be undone.", key=ERASE_SURE,
                )  # fmt: skip
                st.button("Erase this quiz's results", key="class_erase", disabled=not sure,
                          on_click=_erase, args=(code,), type="primary")  # fmt: skip
        st.markdown("**Reset the class demo**")
        plan = versions.reset_plan()
        if not plan:
            st.caption("Every model is on its shipped version: nothing to reset.")
            return
        st.markdown(
            "Puts every model back on the version it shipped with (the runs stay on the "
            "Models page):\n"
            + "\n".join(f"- **{name}**: version `{version}` → shipped" for name, version in plan)
        )
        sure = st.checkbox(f"Yes, put these {len(plan)} models back on their shipped version",
                           key=RESET_SURE)  # fmt: skip
        st.button("Reset the class demo", key="class_reset", disabled=not sure, on_click=_reset,
                  type="primary")  # fmt: skip
