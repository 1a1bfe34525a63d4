"""Quiz: people against the models on the same twenty test images, and a class view."""

import streamlit as st

from fmnist_core.ui.class_views import class_view, projector, teacher_tools
from fmnist_core.ui.identity import is_teacher, personal_mode_hint
from fmnist_core.ui.loaders import dataset_or_stop
from fmnist_core.ui.quiz_views import current_progress, question, result, start_form
from fmnist_core.ui.streamlit_patches import run_through_app

run_through_app()
st.title("Quiz: you against the models")
dataset_or_stop()
# one view at a time (tabs would compute the class view on every answer of every student)
view = st.segmented_control(
    "View", ["Take the quiz", "Class view"], default="Take the quiz", key="quiz_view",
    label_visibility="collapsed",
)  # fmt: skip

if view == "Class view":
    if "class_code" not in st.session_state:  # the code of this tab's quiz, if any
        st.session_state["class_code"] = st.query_params.get("quiz", "")
    code_col, toggles_col = st.columns([3, 2], vertical_alignment="bottom")
    code = code_col.text_input(
        "Quiz code", key="class_code", max_chars=32,
        help="Every result of this code, updated as people finish.",
    )  # fmt: skip
    live = toggles_col.toggle("Update every 5 seconds", value=True, key="class_live")
    on_projector = is_teacher() and toggles_col.toggle(
        "Projector mode", key="class_projector",
        help="For the class's screen: the quiz's QR code and link in large type, how many "
        "joined and finished, and the results without names. Hides the sidebar until off.",
    )  # fmt: skip
    if on_projector and code:
        projector(code, live=live)

    @st.fragment(run_every=5 if live else None)
    def live_view() -> None:
        if code:
            class_view(code, on_projector=on_projector)
        else:
            st.info("Type the quiz code your class uses to see everyone's results.")

    live_view()
    if not on_projector:  # the class's screen shows no controls
        teacher_tools(code)
else:
    progress = current_progress()
    if progress is None:
        start_form()
        personal_mode_hint()
    elif not progress.finished:
        question(progress)
    else:
        result(progress)
