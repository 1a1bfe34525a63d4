"""A phone (390x844, touch) in a real browser: a whole quiz by taps, each question's picture and
ten answers on one screen from its top, the score in view; on Predict a drawing made by touch,
Classify, and the answer in view. A wide screen keeps its layout."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.classroom import quiz

WIDTH, HEIGHT = 390, 844
PHONE = {
    "viewport": {"width": WIDTH, "height": HEIGHT},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
SCROLLER = "document.querySelector('[data-testid=\"stMain\"]')"  # Streamlit's scrolling element
# FMNIST_SCREENSHOTS=folder keeps the screenshots to look at (default: the test's tmp_path)
SHOTS = os.environ.get("FMNIST_SCREENSHOTS", "")


@pytest.fixture()
def phone(browser):
    context = browser.new_context(**PHONE)
    yield context.new_page()
    context.close()


def _shot(page, tmp_path: Path, name: str, **kw) -> None:
    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), **kw)


def _idle(page, timeout_s: float = 60) -> None:
    idle = page.locator("[data-testid='stApp'][data-test-script-state='notRunning']")
    idle.wait_for(timeout=timeout_s * 1000)


def _outside(boxes: dict) -> list[str]:
    """The named boxes not wholly inside the phone's screen."""
    return [
        f"{name} {box}"
        for name, box in boxes.items()
        if box is None
        or box["y"] < 0
        or box["y"] + box["height"] > HEIGHT
        or box["x"] < 0
        or box["x"] + box["width"] > WIDTH
    ]


def _settled_in_view(page, locators: dict, timeout_s: float = 10) -> dict:
    """The elements' boxes once all are on screen (scripts scroll and pictures load just after
    a run ends); the last boxes seen, for the message, if they never are."""
    deadline = time.time() + timeout_s
    while True:
        boxes = {name: loc.bounding_box() for name, loc in locators.items()}
        if not _outside(boxes) or time.time() > deadline:
            return boxes
        page.wait_for_timeout(100)


def _scroll_to_bottom(page) -> None:
    """What a person does on a long page: read on, leaving the page scrolled."""
    page.evaluate(f"{SCROLLER}.scrollTo(0, {SCROLLER}.scrollHeight)")


@pytest.mark.browser
def test_a_whole_quiz_by_taps_on_a_phone(streamlit_url, phone, real_dataset, tmp_path):
    page = phone
    y = real_dataset.y_test
    code = f"phone-{np.random.default_rng().integers(10**6)}"
    images = quiz.quiz_images(code, y)
    page.goto(f"{streamlit_url}/quiz?quiz={code}", wait_until="domcontentloaded")
    page.get_by_label("Your name").fill("Ada")
    page.get_by_label("Your name").press("Tab")
    page.get_by_role("button", name="Start the quiz").tap()
    picture = page.locator(".st-key-quiz_picture img")
    answers = {c: page.get_by_role("button", name=c, exact=True) for c in CLASS_NAMES}
    for i in range(20):
        page.get_by_text(f"Question {i + 1} of 20").wait_for(timeout=60_000)
        _idle(page)
        boxes = _settled_in_view(page, {"picture": picture, **answers})
        assert not _outside(boxes), f"question {i + 1}: off the screen: {_outside(boxes)}"
        # a new question starts at the top, wherever the last one was left
        assert page.evaluate(f"{SCROLLER}.scrollTop") == 0, f"question {i + 1}"
        # two columns of five answers
        assert len({round(boxes[c]["x"]) for c in CLASS_NAMES}) == 2
        if i in (1, 10):
            _shot(page, tmp_path, f"phone_q{i + 1}.png")
        _scroll_to_bottom(page)
        answer = int(y[images[i]]) if i % 4 else (int(y[images[i]]) + 1) % 10  # 15 right
        answers[CLASS_NAMES[answer]].tap()
    score = page.get_by_text("Ada, you got 15 of 20 right (75%)")
    score.wait_for(timeout=60_000)
    _idle(page)
    boxes = _settled_in_view(page, {"score": score})
    assert not _outside(boxes), f"the result opens away from the score: {boxes}"
    assert page.locator("[data-testid='stException']").count() == 0
    _shot(page, tmp_path, "phone_result.png")


def _draw_by_touch(page, box: dict) -> None:
    """A stroke with a finger across the canvas (touch events, as a phone sends them)."""
    cdp = page.context.new_cdp_session(page)
    x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.2
    points = [(x0 + box["width"] * 0.03 * k, y0 + box["height"] * 0.05 * k) for k in range(13)]

    def touch(kind: str, at: list) -> None:
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": at})

    touch("touchStart", [{"x": points[0][0], "y": points[0][1]}])
    for x, y_ in points[1:]:
        touch("touchMove", [{"x": x, "y": y_}])
        page.wait_for_timeout(20)
    touch("touchEnd", [])
    cdp.detach()


@pytest.mark.browser
def test_predict_a_drawing_on_a_phone(streamlit_url, phone, tmp_path):
    page = phone
    page.goto(streamlit_url + "/predict", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Predict").wait_for(timeout=60_000)
    _idle(page, 120)
    page.get_by_role("radio", name="Draw").tap()
    canvas = page.locator("canvas.upper-canvas")
    canvas.wait_for(timeout=60_000)
    _idle(page)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, box  # the canvas fits the width
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH  # nothing sideways
    _draw_by_touch(page, box)
    page.get_by_text("Press Classify when your drawing is finished").wait_for(timeout=60_000)
    _idle(page)
    classify = page.get_by_role("button", name="Classify")
    # where a thumb finds it: at the bottom of the screen (the answer comes below it)
    classify.evaluate("b => b.scrollIntoView({block: 'end'})")
    classify.tap()
    answer = page.get_by_text("The robust model says").first
    answer.wait_for(timeout=120_000)
    _idle(page, 120)
    boxes = _settled_in_view(page, {"answer": answer})
    _shot(page, tmp_path, "phone_predict.png")
    assert not _outside(boxes), f"the answer is off the screen after Classify: {boxes}"
    # on a phone the answer comes before the preprocessing steps
    first_step = page.get_by_text("original (280x280)").first.bounding_box()
    assert boxes["answer"]["y"] < first_step["y"]
    assert page.locator("[data-testid='stException']").count() == 0
    _shot(page, tmp_path, "phone_predict_full.png", full_page=True)


@pytest.mark.browser
def test_a_wide_screen_keeps_its_layout(streamlit_url, page, tmp_path):
    """1400 px: the answers in two rows of five beside the picture; Predict's steps above the
    answer."""
    code = f"wide-{np.random.default_rng().integers(10**6)}"
    page.goto(f"{streamlit_url}/quiz?quiz={code}", wait_until="domcontentloaded")
    page.get_by_label("Your name").fill("Bo")
    page.get_by_label("Your name").press("Tab")
    page.get_by_role("button", name="Start the quiz").click()
    page.get_by_text("Question 1 of 20").wait_for(timeout=60_000)
    _idle(page)
    boxes = [page.get_by_role("button", name=c, exact=True).bounding_box() for c in CLASS_NAMES]
    assert len({round(b["y"]) for b in boxes}) == 2 and len({round(b["x"]) for b in boxes}) == 5
    picture = page.locator(".st-key-quiz_picture img").bounding_box()
    assert picture["width"] == 280 and picture["x"] + picture["width"] < boxes[0]["x"]
    _shot(page, tmp_path, "wide_quiz.png")
    page.goto(streamlit_url + "/predict?image=0", wait_until="domcontentloaded")
    answer = page.get_by_text("The robust model says").first  # the linked test image
    answer.wait_for(timeout=120_000)
    _idle(page, 120)
    first_step = page.get_by_text("original (28x28)").first
    assert first_step.bounding_box()["y"] < answer.bounding_box()["y"]
    _shot(page, tmp_path, "wide_predict.png")
