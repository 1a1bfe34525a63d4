"""Changes to Streamlit's behaviour, in one place. Two reach into its private internals, each
checked by a test (tests/test_app_home.py) that fails when a Streamlit upgrade breaks it or
makes it unneeded; one works around its frontend (rerun_after_reconnecting).

Verified with Streamlit 1.67.0 (VERIFIED_WITH)."""

from __future__ import annotations

import sys

import streamlit as st

VERIFIED_WITH = "1.67.0"  # the Streamlit version both changes were checked against
STREAMLIT_CLEANUP = None  # Streamlit's own after-run cleanup, before keep_keras_state_...


def keep_keras_state_between_runs() -> None:
    """Stop Streamlit from calling keras.backend.clear_session() after every script run.

    Streamlit does that whenever keras is imported, to free models that scripts rebuild on
    each run. Ours are loaded once per server (cache_resource) and shared by all sessions, so
    it frees nothing; it slows every run of every page, drops TensorFlow's kernel cache, which
    makes the next prediction slow, and resets global Keras state while other sessions'
    threads may be predicting. Matplotlib's cleanup, the other half, stays.
    """
    # a private Streamlit module: only when the patch is installed
    from streamlit.runtime.scriptrunner import script_runner

    global STREAMLIT_CLEANUP
    if STREAMLIT_CLEANUP is None:  # kept, so a test can check Streamlit still needs the change
        STREAMLIT_CLEANUP = script_runner._clean_problem_modules

    def clean_problem_modules_except_keras() -> None:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            plt.close("all")

    script_runner._clean_problem_modules = clean_problem_modules_except_keras


def run_through_app() -> None:
    """Make a direct link to a page (/predict) go through app.py's navigation.

    Streamlit treats a `pages/` folder as an old-style multipage app until st.navigation has
    run once in the server process, so the very first visitor arriving on /predict would get
    the bare page script without the app's navigation and layout. Switch and rerun instead.
    """
    # a private Streamlit module: only when the patch is installed
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


REJOIN_EVERY_S = 120


def rerun_after_reconnecting() -> None:
    """Make the browser rerun the page when its websocket reconnects, including to another
    server (behind the proxy, when its own server died).

    Streamlit's frontend (1.67) asks for a run on reconnecting only when the page has a
    fragment that reruns on a timer: otherwise it expects its old session on the server, and
    a new server, which has none, leaves the page greyed out and its buttons dead until a
    reload. This empty fragment is such a timer: every page then reruns from its link on the
    server it reaches (the quiz resumes at its question, ?p=...). Its own run every
    REJOIN_EVERY_S seconds draws nothing and costs microseconds. Checked by
    tests/app/test_serving_faults.py (a server killed mid-quiz)."""

    _rejoin_timer()


@st.fragment(run_every=REJOIN_EVERY_S)
def _rejoin_timer() -> None:
    """Draws nothing: its timer is what matters (decorated once, not on every run)."""
