"""A page with only one picture's answers, as Predict shows a user's picture
(tests/analysis/test_predict.py puts the picture in session state)."""

import streamlit as st

from fmnist_core.data.preprocess import preprocess
from fmnist_core.ui.loaders import predictor_or_stop
from fmnist_core.ui.widgets import show_answers

prep = preprocess(st.session_state["picture"])
answers = predictor_or_stop()(prep.image, prep.as_drawn, mirrored=True)
show_answers(answers, user_picture=True, title="Your picture")
