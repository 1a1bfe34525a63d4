"""A page with only the lesson beside a drawing's answer (tests/test_predict.py opens it)."""

import streamlit as st

from fmnist_core.ui.widgets import why_tutorial_models_fail

why_tutorial_models_fail("Your drawing", expanded=st.session_state.get("open_it", False))
