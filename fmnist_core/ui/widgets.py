"""Shared widgets: a picture's preprocessing steps, every model's answer, image grids, the
model tables' number formats."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pyarrow as pa
import streamlit as st

from fmnist_core.analysis.predict import (
    ALIKE_AS_OUTLINES,
    Answer,
    close_tops,
    consensus,
    headline,
    models_disagree,
)
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.data.augment import styled_examples
from fmnist_core.data.gallery import data_url, image_digest, png_bytes, thumbnail, tile
from fmnist_core.data.preprocess import Preprocessed, PreprocessError, preprocess
from fmnist_core.figures.answers import probabilities_figure
from fmnist_core.ui import phone
from fmnist_core.ui.loaders import dataset_or_stop, predictor_or_stop

EMPTY_CELL = "—"  # a table cell with nothing to show (st.dataframe's placeholder), never "None"
MODEL_TABLE_COLUMNS = {
    "Test accuracy": st.column_config.NumberColumn(format="%.2f%%"),
    "Tutorial reported": st.column_config.NumberColumn(format="%.2f%%"),
    "Difference (points)": st.column_config.NumberColumn(format="%+.2f"),
    "Test loss": st.column_config.NumberColumn(format="%.4f"),
    "Parameters": st.column_config.NumberColumn(format="localized"),
    "Size (MB)": st.column_config.NumberColumn(format="%.2f"),
    "Training (s)": st.column_config.NumberColumn(format="%.0f"),
    "ECE": st.column_config.NumberColumn(format="%.4f"),
}


def escape_markdown(text: str) -> str:
    """Free text (a person's name) shown as written: Markdown and HTML characters escaped."""
    return re.sub(r"([\\`*_{}\[\]()<>#+\-.!|~:$])", r"\\\1", str(text))


def interval_text(interval) -> str:
    """A 95% interval in a table cell: '90.72-91.80%'."""
    return f"{interval.low * 100:.2f}-{interval.high * 100:.2f}%"


def thumbnail_url(image: np.ndarray) -> str:
    """A step's picture as the small PNG data URL the page shows: a small picture (the 28x28
    input) at its own size, which the browser enlarges with square pixels (app.py), a sixteenth
    of the pixels to encode and send; a large one (a photo) reduced to 112 pixels."""
    side = max(np.shape(image)[:2])
    return data_url(png_bytes(thumbnail(image, side=side if side <= 56 else 112)))


def show_steps(prep: Preprocessed) -> None:
    """The preprocessing path as a row of small images with their captions, in one element
    (a row of columns was thirteen: under a classroom's load every element costs); the row
    wraps where the page is narrow instead of squeezing the pictures. The steps' pictures are
    thumbnail_url's data URLs, made once per answer."""
    pictures = [step.image for step in prep.steps]
    captions = [step.name + (f" ({step.note})" if step.note else "") for step in prep.steps]
    st.image(pictures, caption=captions, width=112)


def readings_text(answer: Answer) -> str:
    """How a model trained on drawings read the picture, in one sentence (empty for one
    reading)."""
    if answer.as_drawn:
        how = "filled and as drawn" + (", each also mirrored" if answer.mirrored else "")
        return (
            " It learned outlines as well as solid items, so it read your drawing "
            f"{how}, and gives the mean."
        )
    if answer.mirrored:
        return (
            " It learned items facing either way, so it read your picture as it is and "
            "mirrored, and gives the mean."
        )
    return ""


def answers_table_and_chart(answers: dict[str, Answer], true_label: int | None = None):
    """The top-3 table (an Arrow table) and the all-class bar chart of a set of answers: built
    once per answer and kept with it (rebuilding the plotly figure and the table on every
    rerun is much of a busy server's work)."""
    head = headline(answers)
    rows = []
    # the headline model first, then the tutorials' in registry order
    ordered = sorted(answers.values(), key=lambda a: a.name != head.model)
    for a in ordered:
        top = a.top(3)
        row: dict[str, str | float] = {"Model": a.name}
        if true_label is not None:
            row["Right?"] = "yes" if a.label == true_label else "no"
        for k, (cls, p) in enumerate(top, 1):
            row[f"#{k}"] = f"{cls} {p:.1%}"
        row["Time (ms)"] = round(a.seconds * 1000, 1)
        rows.append(row)
    figure = probabilities_figure({n: a.probabilities for n, a in answers.items()})
    # an Arrow table made from the rows, without pandas: st.dataframe converts a pandas one on
    # every rerun and takes an Arrow one as it is
    return pa.Table.from_pylist(rows), figure


ANSWER_COLUMNS = {
    "Time (ms)": st.column_config.NumberColumn(
        help="The model's own time for this picture's readings on this server: the fastest of "
        "five calls when the models were loaded (all models then answer together in one call)."
    )
}


def show_answers(
    answers: dict[str, Answer],
    true_label: int | None = None,
    user_picture: bool = False,
    table_and_chart=None,
    title: str = "",
    key: str = "answer",
) -> None:
    """The headline answer (the robust model's) with how many others agree, a top-3 table per
    model, and the all-class bar chart. `user_picture`: drawn or uploaded, not a test image;
    `table_and_chart`: answers_table_and_chart's result, when kept; `title`: the picture's;
    `key`: the headline's container is `headline_{key}` (a phone shows it first)."""
    with st.container(key=f"headline_{key}"):
        _show_headline(answers, true_label, user_picture, title)
    table, chart = table_and_chart or answers_table_and_chart(answers, true_label)
    st.dataframe(table, hide_index=True, width="stretch", column_config=ANSWER_COLUMNS)
    st.plotly_chart(chart, width="stretch")


def _show_headline(
    answers: dict[str, Answer], true_label: int | None, user_picture: bool, title: str
) -> None:
    truth = f" The true class is **{CLASS_NAMES[true_label]}**." if true_label is not None else ""
    head = headline(answers)
    if head.model is not None and head.unsure:
        # not a confident wrong word: its two likeliest classes, as a question
        (first, p1), (second, p2) = head.unsure
        text = (
            f"**The {head.model} model is not sure: {first} ({p1:.0%}) or {second} "
            f"({p2:.0%})?** {head.agree} of {head.others} tutorial models say {first}.{truth}"
        )
        if user_picture and {first, second} <= set(ALIKE_AS_OUTLINES):
            text += (" As outlines these two look alike: draw the collar, buttons, zip or "
                     "cuffs too.")  # fmt: skip
        st.warning(text + readings_text(answers[head.model]), icon=":material/help:")
        if user_picture and head.agree < head.others:
            why_tutorial_models_fail(title, expanded=False)
    elif head.model is not None:
        text = (
            f"**The {head.model} model says {head.class_name}**; {head.agree} of "
            f"{head.others} tutorial models agree.{truth}"
        )
        text += readings_text(answers[head.model])
        (st.success if head.agree * 2 > head.others else st.warning)(text)
        if user_picture:
            close = close_tops(answers[head.model])
            if close:
                st.caption(
                    f"Its second choice is close: **{close[1]}**. As outlines and silhouettes, "
                    "a T-shirt, a pullover, a coat and a shirt look alike; the lines inside "
                    "(collar, buttons, zip, cuffs) tell them apart, so draw those too."
                )
            if head.agree < head.others:  # the lesson where tutorial models missed it
                why_tutorial_models_fail(title, expanded=head.agree * 2 <= head.others)
    else:
        winner, votes = consensus(answers)
        if models_disagree(answers):
            st.warning(
                f"**The models disagree**: {votes} of {len(answers)} say **{winner}**.{truth}"
            )
        else:
            st.success(f"All {len(answers)} models say **{winner}**.{truth}")


@st.cache_resource(show_spinner=False)
def _styled_training_strip() -> str:
    """Eight training images, each followed by three styled copies, as one PNG data URL (made
    once per server: encoding it on every answer slows a busy server)."""
    ds = dataset_or_stop()
    picks = np.array([int(np.flatnonzero(ds.y_train == c)[0]) for c in (0, 1, 3, 5, 7, 8, 9, 2)])
    originals = ds.x_train[picks]
    copies = 3
    styled = styled_examples(originals, seed=3, copies=copies)
    strip = [
        image
        for i, original in enumerate(originals)
        for image in (original, *styled[i * copies : (i + 1) * copies])
    ]
    return data_url(png_bytes(tile(np.stack(strip), cols=2 * (copies + 1), scale=3)))


def why_tutorial_models_fail(key: str, expanded: bool = False) -> None:
    """The lesson in plain words, with training images as the robust model saw them: filled
    in only while the expander is open (sending the lesson and its picture with every rerun
    of a closed expander cost a busy server)."""
    lesson = st.expander(
        "Why do the tutorial models get drawings wrong?",
        expanded=expanded,
        key=f"why_fail:{key}",
        on_change="rerun",
    )
    if not lesson.open:
        return
    with lesson:
        st.markdown(
            "The tutorial models only ever saw **product photos**: a solid, shaded item in side "
            "profile. A drawing made of lines, a flat icon or a shoe seen from the front is "
            "something they never met, so they guess; a closed outline often looks to them "
            "like a bag. The **robust** model learned from the same training photos, and from "
            "each of them drawn as an outline, filled in as a silhouette, flat-shaded, turned, "
            "mirrored, thicker or thinner, like these:"
        )
        st.image(
            _styled_training_strip(),
            caption="Each product photo (first of four) and three ways the robust model saw it",
        )


def classify_and_show(
    source,
    title: str,
    invert: bool | None,
    true_label: int | None = None,
    fill: bool | None = None,
    user_picture: bool = True,
    digest: str | None = None,
    key: str = "pred_picture",
    scroll: object = None,
) -> None:
    """Preprocess one image, show its steps and every model's answer; bad input is one sentence.
    `digest`: image_digest(source) when the caller keeps it (a drawing's, per stroke); `key`:
    this picture's container, `pred_...` and unique on the page (a phone shows the headline
    answer above the steps, phone.PREDICT_CSS); `scroll`: when not None, the headline answer
    is scrolled into view, once per value (a Classify click)."""
    with st.container(key=key):
        _classify_and_show(source, title, invert, true_label, fill, user_picture, digest, key)
        if scroll is not None:
            phone.scroll_into_view(f"headline_{key}", scroll)


def _classify_and_show(
    source,
    title: str,
    invert: bool | None,
    true_label: int | None,
    fill: bool | None,
    user_picture: bool,
    digest: str | None,
    box: str,
) -> None:
    st.subheader(title)
    predictor = predictor_or_stop()
    # The same picture with the same settings and models is answered once per session: every
    # rerun (another widget, a return to the Draw tab) shows the kept answer again.
    key = (digest or image_digest(source), invert, fill, id(predictor))
    kept = st.session_state.setdefault("_answers", {})
    if key in kept:
        prep, answers, view = kept[key]
    else:
        try:
            prep = preprocess(source, invert=invert, fill=fill)
        except PreprocessError as e:
            st.error(f"{title}: {e}")
            return
        answers = predictor(prep.image, prep.as_drawn, mirrored=user_picture)
        # kept with its steps as the thumbnails shown, encoded once (not a photo's full-size
        # copies, and not a PNG encoding on every rerun, which weighs on a busy server)
        prep = replace(
            prep,
            steps=[
                replace(
                    s_,
                    image=thumbnail_url(s_.image) if isinstance(s_.image, np.ndarray) else s_.image,
                )
                for s_ in prep.steps
            ],
        )
        view = answers_table_and_chart(answers, true_label)
        while len(kept) >= KEPT_ANSWERS:
            kept.pop(next(iter(kept)))
        kept[key] = (prep, answers, view)
    show_steps(prep)
    st.session_state["last_prediction_image"] = prep.image  # other pages can place it
    st.session_state["last_prediction_title"] = title
    show_answers(answers, true_label, user_picture=user_picture, table_and_chart=view, title=title,
                 key=box)  # fmt: skip
    st.page_link(
        "pages/inside.py",
        label="Look inside the models: which pixels decided, layer by layer",
        icon=":material/neurology:",
    )


KEPT_ANSWERS = 12  # per session: a handful of uploads and drawings, under a megabyte


def image_grid(indices, images, captions, empty: str = "No images.") -> None:
    """Test images as one grid of thumbnails with captions.

    The 28x28 originals are sent as they are and enlarged by the browser with square pixels
    (app.py sets image-rendering: pixelated):
    a ninth of the bytes of pre-enlarged images, which keeps pages with many images quick.
    """
    if len(indices) == 0:
        st.caption(empty)
        return
    st.image([images[i] for i in indices], caption=list(captions), output_format="PNG", width=84)
