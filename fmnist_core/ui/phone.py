"""Phones (390 px wide, touch): the CSS and the scrolling that make the Quiz and Predict fit.

Streamlit stacks st.columns under 640 px and keeps a page's scroll position from one run to
the next. Every rule here applies under that width only (NARROW), to keyed containers
(`st.container(key=...)` gives the class `st-key-...`) or while the view that sends it is
shown: wide screens look as before, and other pages' columns are untouched.
"""

from __future__ import annotations

import json

import streamlit as st

NARROW = "(max-width: 640px)"  # where Streamlit stacks columns
# the page's scrolling element (Streamlit 1.67), and the window in case a version scrolls that
_SCROLLER = "document.querySelector('[data-testid=\"stMain\"]')"
# an st.html element with a script takes a row of the page; the marker hides that row
_HIDE_OWN_ROW = (
    "<style>[data-testid='stElementContainer']:has(.fmnist-script) {display: none;}</style>"
    "<span class='fmnist-script'></span>"
)

# The quiz's answer buttons: two rows of five columns (desktop); under NARROW one grid of two
# columns, T-shirt/top and Trouser first, in the DOM's order (the rows and columns between
# the grid and the buttons stop being boxes). A compact title and a smaller picture leave
# room for the ten buttons under it.
QUIZ_QUESTION_CSS = f"""
@media {NARROW} {{
  [data-testid='stMainBlockContainer'] {{ padding-top: 3.5rem; }}
  [data-testid='stMainBlockContainer'] h1 {{ font-size: 1.5rem; padding: 0.25rem 0; }}
  div.st-key-quiz_picture {{ align-items: center; }}
  .st-key-quiz_picture > [data-testid='stElementContainer'],
  .st-key-quiz_picture img,
  .st-key-quiz_picture [data-testid='stImageCaption'] {{ width: 224px !important; }}
  div.st-key-quiz_answers {{
    display: grid !important; grid-template-columns: 1fr 1fr; gap: 0.5rem;
  }}
  .st-key-quiz_answers [data-testid='stLayoutWrapper'],
  .st-key-quiz_answers [data-testid='stHorizontalBlock'],
  .st-key-quiz_answers [data-testid='stColumn'],
  .st-key-quiz_answers [data-testid='stColumn'] > [data-testid='stVerticalBlock'] {{
    display: contents !important;
  }}
}}
"""

# Predict's answer under NARROW: the title and the headline answer first, then the picture's
# preprocessing steps and the rest (classify_and_show's keyed containers: pred_*, with
# headline_* inside).
PREDICT_CSS = f"""
@media {NARROW} {{
  [class*='st-key-pred_'] > * {{ order: 2; }}
  [class*='st-key-pred_'] > :first-child,
  [class*='st-key-pred_'] > [class*='st-key-headline_'],
  [class*='st-key-pred_'] > :has(> [class*='st-key-headline_']) {{ order: 1; }}
}}
"""


def style(css: str) -> None:
    """CSS for the page while the calling view is shown."""
    st.html(f"<style>{css}</style>")


def run_script(script: str, nonce: object = "") -> None:
    """Run `script` in the page once for each new `nonce` (Streamlit runs an st.html script
    again only when its body changes), in a row of the page that is not shown."""
    st.html(
        f"{_HIDE_OWN_ROW}<script>/* {json.dumps(str(nonce))} */ {script}</script>",
        unsafe_allow_javascript=True,
    )


def scroll_to_top(nonce: object) -> None:
    """Show the page from its top (once per nonce: a new question, the result)."""
    run_script(f"{_SCROLLER}?.scrollTo(0, 0); window.scrollTo(0, 0);", nonce)


def scroll_into_view(key: str, nonce: object) -> None:
    """Scroll until the first element of the keyed container `key` is on screen, the least
    that shows it (nothing when it is), once per nonce; again as pictures above it load and
    move it. (Its first element: the whole container can be taller than the screen.)"""
    target = json.dumps(f".st-key-{key} > :first-child")
    run_script(
        f"const show = () => document.querySelector({target})"
        "?.scrollIntoView({block: 'nearest'});"
        "for (const ms of [50, 300, 1000]) setTimeout(show, ms);",
        nonce,
    )
