"""Prediction: the core predictor, the CLI, the Predict page in AppTest and a real browser."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image
from streamlit.testing.v1 import AppTest

from fmnist_core import CLASS_NAMES
from fmnist_core.analysis.predict import Predictor, consensus, models_disagree
from fmnist_core.models import get_spec
from fmnist_core.versions import available_artifacts

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


@pytest.fixture(scope="module")
def predictor():
    artifacts, problems = available_artifacts()
    assert not problems
    if not artifacts:
        pytest.fail("no shipped model in assets/models")
    return Predictor(artifacts)


@pytest.mark.slow
def test_predictor_answers_for_every_available_model(predictor, real_dataset):
    answers = predictor(real_dataset.x_test[0])
    assert list(answers) == [a.name for a in available_artifacts()[0]]
    for a in answers.values():
        assert a.probabilities.shape == (10,)
        assert a.probabilities.sum() == pytest.approx(1.0, abs=1e-4)
        assert len(a.top(3)) == 3 and a.top(3)[0][1] >= a.top(3)[1][1]
    # the shipped models agree on the first test image, an easy ankle boot
    assert consensus(answers) == ("Ankle boot", len(answers))
    assert not models_disagree(answers)


def test_all_models_answer_in_one_call_with_each_models_own_numbers(predictor, real_dataset):
    """The joint model is the loaded models side by side: each answer is exactly what that
    model alone says, and its time is its own, measured when the models were loaded."""
    from fmnist_core.analysis.predict import reads_drawings

    assert predictor.joint is not None
    x = real_dataset.x_test[3].astype(np.float32)
    drawn = np.ascontiguousarray(x[:, ::-1])  # any second picture serves as the one as drawn
    cases = [
        ((x,), {}, lambda name: [x]),
        (
            (x, drawn),
            {"mirrored": True},
            lambda name: [x, drawn, x[:, ::-1], drawn[:, ::-1]] if reads_drawings(name) else [x],
        ),
    ]
    for args, kwargs, views_of in cases:
        answers = predictor(*args, **kwargs)
        for name, model in predictor.models.items():
            if name in predictor.averaged:
                continue
            views = views_of(name)
            alone = np.asarray(model.predict_on_batch(np.stack(views)[..., None]))
            np.testing.assert_allclose(answers[name].probabilities, alone.mean(0), atol=1e-6)
            assert answers[name].seconds == predictor.timings[name, len(views)] > 0
    joint, predictor.joint = predictor.joint, None  # model by model, as if joining had failed
    try:
        by_model = predictor(x, drawn, mirrored=True)
    finally:
        predictor.joint = joint
    assert list(by_model) == list(answers)
    for name, a in by_model.items():
        np.testing.assert_allclose(a.probabilities, answers[name].probabilities, atol=1e-6)
        assert (a.readings, a.seconds) == (answers[name].readings, answers[name].seconds)


@pytest.mark.slow
def test_predictor_matches_the_stored_test_probabilities(predictor, real_dataset):
    for art in available_artifacts()[0]:
        stored = art.test_probabilities()[:20]
        for i in range(20):
            live = predictor(real_dataset.x_test[i])[art.name].probabilities
            np.testing.assert_allclose(live, stored[i], atol=2e-3)


def test_models_trained_on_drawings_also_read_the_drawing_as_drawn(predictor, real_dataset):
    from fmnist_core.analysis.predict import reads_drawings

    assert reads_drawings("robust") and not reads_drawings("cnn1")
    filled, drawn = real_dataset.x_test[0], real_dataset.x_test[1]  # two different inputs
    plain, both = predictor(filled), predictor(filled, drawn)
    alone = predictor(drawn)
    for name in predictor.names:
        if reads_drawings(name):  # the mean of its two readings
            assert both[name].readings == 2
            np.testing.assert_allclose(
                both[name].probabilities,
                (plain[name].probabilities + alone[name].probabilities) / 2,
                atol=1e-5,
            )
        else:  # the tutorial models answer the filled drawing only
            assert both[name].readings == 1
            np.testing.assert_allclose(both[name].probabilities, plain[name].probabilities)


def test_a_users_picture_is_also_read_mirrored_by_the_models_trained_on_mirrors(
    predictor, real_dataset
):
    from fmnist_core.analysis.predict import reads_drawings

    shoe, drawn = real_dataset.x_test[0], real_dataset.x_test[2]  # the boot faces left
    flipped, flipped_drawn = shoe[:, ::-1], drawn[:, ::-1]
    four = predictor(shoe, drawn, mirrored=True)
    two = predictor(shoe, mirrored=True)
    for name in predictor.names:
        if reads_drawings(name):
            assert (four[name].readings, four[name].as_drawn, four[name].mirrored) == (
                4,
                True,
                True,
            )
            readings = [
                predictor(v)[name].probabilities for v in (shoe, drawn, flipped, flipped_drawn)
            ]
            np.testing.assert_allclose(
                four[name].probabilities, np.mean(readings, axis=0), atol=1e-5
            )
            # so the same item facing right gets the same answer as facing left
            facing_right = predictor(flipped, flipped_drawn, mirrored=True)[name]
            np.testing.assert_allclose(
                facing_right.probabilities, four[name].probabilities, atol=1e-5
            )
            assert (two[name].readings, two[name].as_drawn) == (2, False)
            np.testing.assert_allclose(
                two[name].probabilities, (readings[0] + readings[2]) / 2, atol=1e-5
            )
        else:  # the tutorial models never saw a mirror image: one reading, as before
            assert four[name].readings == 1 and not four[name].mirrored
            np.testing.assert_allclose(
                four[name].probabilities, predictor(shoe)[name].probabilities
            )


def test_the_kept_answer_chart_is_made_once_and_is_a_valid_plotly_figure():
    import plotly.graph_objects as go
    import plotly.io as pio

    from fmnist_core.figures.answers import probabilities_figure

    chart = probabilities_figure({"cnn1": np.full(10, 0.1), "robust": np.eye(10)[3]})
    first = chart.to_dict()
    assert chart.to_dict() is first  # st.plotly_chart's copy on every rerun, made once
    validated = go.Figure(first)  # built unvalidated: plotly's validation accepts it as it is
    assert json.loads(pio.to_json(validated)) == json.loads(pio.to_json(chart, validate=False))
    assert [bar["y"][3] for bar in first["data"]] == [0.1, 1.0]


def test_close_tops_names_a_runner_up_top_only_when_it_is_close():
    from fmnist_core.analysis.predict import Answer, close_tops

    def answer(**probs):
        p = np.zeros(10, np.float32)
        for name, value in probs.items():
            p[CLASS_NAMES.index(name)] = value
        return Answer("robust", p, 0.0)

    assert close_tops(answer(Pullover=0.5, Coat=0.35, Bag=0.15)) == ("Pullover", "Coat")
    assert close_tops(answer(Shirt=0.45, **{"T-shirt/top": 0.4})) == ("Shirt", "T-shirt/top")
    assert close_tops(answer(Pullover=0.85, Coat=0.1, Bag=0.05)) is None  # not close
    assert close_tops(answer(Pullover=0.5, Bag=0.45, Coat=0.05)) is None  # not two tops
    assert close_tops(answer(Trouser=0.5, Dress=0.45, Coat=0.05)) is None


@pytest.fixture(scope="module")
def image_files(real_dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    good = folder / "boot.png"
    Image.fromarray(255 - real_dataset.x_test[0]).resize((140, 140)).convert("RGB").save(good)
    trouser = folder / "trouser.jpg"
    Image.fromarray(255 - real_dataset.x_test[2]).resize((200, 200)).convert("RGB").save(trouser)
    bad = folder / "notes.png"
    bad.write_text("this is not a picture")
    return good, trouser, bad


@pytest.mark.slow
def test_cli_predict_json_for_good_files(image_files):
    good, trouser, _ = image_files
    out = run_cli("predict", "--json", str(good), str(trouser))
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert [r["image"] for r in result] == [str(good), str(trouser)]
    names = [a.name for a in available_artifacts()[0]]
    for r, expected in zip(result, ["Ankle boot", "Trouser"]):
        assert list(r["models"]) == names
        for answer in r["models"].values():
            assert len(answer["probabilities"]) == 10
            assert answer["class"] == CLASS_NAMES[answer["label"]]
        votes = [a["class"] for a in r["models"].values()]
        assert votes.count(expected) > len(votes) / 2
        assert r["headline"]["model"] == "robust"
        assert r["headline"]["class"] == r["models"]["robust"]["class"]
        assert r["filled"] is False  # photos are never filled


@pytest.mark.slow
def test_cli_predict_reports_unreadable_files_and_goes_on(image_files):
    good, _, bad = image_files
    out = run_cli(
        "predict", "--json", "--model", "strided3", str(bad), str(good), "/no/such/file.png"
    )
    assert out.returncode == 1
    result = json.loads(out.stdout)
    assert result[0] == {"image": str(bad), "error": result[0]["error"]}
    assert "not an image" in result[0]["error"]
    assert list(result[1]["models"]) == ["strided3"]
    assert "error" in result[2] and "Traceback" not in out.stderr


@pytest.mark.slow
def test_predict_page_with_a_test_image(real_dataset):
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("pages/predict.py").run()
    assert not at.exception
    assert at.segmented_control(key="source").value == "Draw"  # opens ready to draw
    at.segmented_control(key="source").set_value("Test image").run()
    at.number_input(key="test_index").set_value(2).run()
    assert at.query_params["image"] == "2"  # the link reopens this image
    assert not at.exception
    table = at.dataframe[0].value
    names = [a.name for a in available_artifacts()[0]]
    # the headline model leads the table, the tutorials' follow in registry order
    assert table["Model"].tolist() == ["robust"] + [n for n in names if n != "robust"]
    assert set(table["Right?"]) <= {"yes", "no"}
    assert all(col in table for col in ("#1", "#2", "#3", "Time (ms)"))
    verdict = (at.success or at.warning)[0].value
    assert f"The true class is **{CLASS_NAMES[real_dataset.y_test[2]]}**" in verdict
    # the headline is the robust model's answer, with how many tutorial models agree
    robust = table[table["Model"] == "robust"].iloc[0]
    assert verdict.startswith(f"**The robust model says {robust['#1'].rsplit(' ', 1)[0]}**")
    tutorial = table[[not get_spec(n).beyond_tutorials for n in table["Model"]]]
    agree = sum(
        row["#1"].rsplit(" ", 1)[0] == robust["#1"].rsplit(" ", 1)[0]
        for _, row in tutorial.iterrows()
    )
    assert f"{agree} of {len(tutorial)} tutorial models agree" in verdict
    captions = [c for img in at.image for c in img.captions]
    assert any(c.startswith("final 28x28") for c in captions)


def _wait_for_answers(page, title: str):
    page.get_by_role("heading", name=title).wait_for(timeout=90_000)
    page.get_by_text("The robust model says").first.wait_for(timeout=90_000)


@pytest.mark.browser
def test_draw_and_upload_in_a_real_browser(streamlit_url, page, image_files, tmp_path):
    page.goto(streamlit_url + "/predict", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Predict").wait_for(timeout=60_000)

    page.get_by_role("radio", name="Draw").click()
    canvas = page.locator("canvas.upper-canvas")  # fabric.js adds it once it takes strokes
    canvas.wait_for(timeout=60_000)
    box = canvas.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.15
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 15):  # a trouser-like stroke: down, across, down
        page.mouse.move(x0 + (k > 7) * box["width"] * 0.3, y0 + box["height"] * 0.05 * k, steps=3)
    page.mouse.up()
    # an unfinished drawing gets no answer until the person presses Classify
    page.get_by_text("Press Classify when your drawing is finished").wait_for(timeout=60_000)
    assert page.get_by_role("heading", name="Your drawing").count() == 0
    page.get_by_role("button", name="Classify").click()
    _wait_for_answers(page, "Your drawing")
    page.screenshot(path=str(tmp_path / "draw.png"), full_page=True)

    page.get_by_role("radio", name="Upload").click()
    good, _, _ = image_files
    page.locator("input[type='file']").set_input_files(str(good))
    _wait_for_answers(page, good.name)
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(tmp_path / "upload.png"), full_page=True)


def test_the_lesson_is_sent_only_while_its_expander_is_open(real_dataset):
    """Why the tutorial models fail, with the styled training strip: filled in only while the
    expander is open (it opens by itself when most tutorial models disagree)."""

    # a script file, not AppTest.from_function: its temporary file stays behind as __main__,
    # and a later test's spawned worker processes die trying to run it
    page = str(ROOT / "tests" / "app" / "scripts" / "lesson.py")
    closed = AppTest.from_file(page, default_timeout=120).run()
    assert len(closed.expander) == 1 and not closed.image and not closed.markdown
    opened = AppTest.from_file(page, default_timeout=120)
    opened.session_state["open_it"] = True
    opened.run()
    assert not opened.exception
    assert "product photos" in opened.markdown[0].value and len(opened.image) == 1


@pytest.mark.slow
def test_the_lesson_is_offered_only_where_tutorial_models_missed(real_dataset):
    """A user's picture that every tutorial model reads as the headline model does gets no
    "Why do the tutorial models get drawings wrong?"; one that some of them miss gets it."""
    from fmnist_core.analysis.predict import headline
    from fmnist_core.data.preprocess import preprocess
    from fmnist_core.data.user_pictures import outline_drawing
    from fmnist_core.ui.loaders import predictor_or_stop

    page = str(ROOT / "tests" / "app" / "scripts" / "answers.py")
    rng = np.random.default_rng(0)
    pictures = [real_dataset.x_test[i] for i in (0, 1, 2)]  # clean test images
    pictures += [outline_drawing(real_dataset.x_test[i], rng) for i in (3, 4, 5)]
    seen = set()
    for picture in pictures:
        prep = preprocess(picture)
        answers = predictor_or_stop()(prep.image, prep.as_drawn, mirrored=True)
        head = headline(answers)
        missed = head.agree < head.others
        at = AppTest.from_file(page, default_timeout=120)
        at.session_state["picture"] = picture
        at.run()
        assert not at.exception, at.exception
        lesson = [e for e in at.expander if "tutorial models get drawings wrong" in e.label]
        assert bool(lesson) == missed, (head, [e.label for e in at.expander])
        seen.add(missed)
    assert seen == {True, False}  # both cases were tried


def test_a_link_opens_a_test_image_and_a_bad_one_says_what_was_ignored(real_dataset):
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["image"] = "123"
    at.switch_page("pages/predict.py").run()
    assert not at.exception
    assert at.segmented_control(key="source").value == "Test image"
    assert at.number_input(key="test_index").value == 123
    assert at.query_params["image"] == "123"
    for bad in ("abc", "10000"):
        at = AppTest.from_file(APP, default_timeout=180)
        at.query_params["image"] = bad
        at.switch_page("pages/predict.py").run()
        assert not at.exception
        assert at.segmented_control(key="source").value == "Draw"
        assert any(f"image={bad!r}" in i.value and "ignored" in i.value for i in at.info)


def test_the_headline_is_unsure_below_the_threshold_only():
    from fmnist_core.analysis.predict import UNSURE_BELOW, Answer, headline

    def answers(top: float) -> dict:
        p = np.full(10, (1 - top - 0.3) / 8, np.float32)
        p[6], p[0] = top, 0.3  # Shirt, then T-shirt/top
        return {"robust": Answer("robust", p, 0.01), "cnn1": Answer("cnn1", p, 0.01)}

    unsure = headline(answers(UNSURE_BELOW - 0.01)).unsure
    assert [c for c, _ in unsure] == ["Shirt", "T-shirt/top"]
    assert headline(answers(UNSURE_BELOW + 0.01)).unsure is None


@pytest.mark.slow
def test_predict_says_unsure_and_names_two_below_the_threshold_and_not_above(real_dataset):
    from fmnist_core.analysis.evaluate import predict_probabilities
    from fmnist_core.analysis.predict import UNSURE_BELOW
    from fmnist_core.versions import find_artifact

    # test images the robust model reads, as Predict reads a test image (one reading)
    top = predict_probabilities(find_artifact("robust").load_model(), real_dataset.x_test[:800])
    low = int(np.flatnonzero(top.max(1) < UNSURE_BELOW - 0.03)[0])
    high = int(np.flatnonzero(top.max(1) > UNSURE_BELOW + 0.2)[0])
    for index, unsure in ((low, True), (high, False)):
        at = AppTest.from_file(APP, default_timeout=180)
        at.query_params["image"] = str(index)
        at.switch_page("pages/predict.py").run()
        assert not at.exception
        said = [w.value for w in at.warning] + [s.value for s in at.success]
        assert any("The robust model is not sure:" in t for t in said) == unsure, said
        assert any("The robust model says" in t for t in said) == (not unsure), said
        if unsure:
            first, second = (CLASS_NAMES[i] for i in np.argsort(top[index])[::-1][:2])
            assert any(f"not sure: {first} (" in t and f" or {second} (" in t for t in said)
