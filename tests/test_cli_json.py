"""The CLI's JSON contract: every command with `--json` prints strict JSON (no NaN, no numpy
types) for every kind of input a person gives it, and an unreadable file is an error of its
own in that JSON, never a crash of the command.

The pictures are made from test images the way the app's picture sets make them
(fmnist_core.data.user_pictures): the test image itself, an outline drawing, a filled
silhouette, white canvas strokes on black, a JPEG upload, and random bytes named .png."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.data.gallery import png_bytes
from fmnist_core.data.user_pictures import render_set
from fmnist_core.models import list_models

UNREADABLE = "unreadable.png"


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity, which are not JSON (a browser's parser fails)."""

    def refuse(name: str):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def pictures(real_dataset, tmp_path_factory) -> dict[str, Path]:
    """One file of each kind, by kind; the unreadable one last."""
    folder = tmp_path_factory.mktemp("pictures")
    x = real_dataset.x_test
    made = {
        "test.png": png_bytes(x[0]),  # a light item on black, as the dataset has it
        "outline.png": render_set("outline", x[1:2], seed=1)[0],  # dark lines on white
        "silhouette.png": render_set("silhouette", x[2:3], seed=1)[0],  # filled, on white
        "canvas.png": png_bytes(render_set("canvas", x[3:4], seed=1)[0]),  # strokes on black
        "upload.jpg": render_set("photo", x[4:5], seed=1)[0],  # a JPEG photo on white
        UNREADABLE: np.random.default_rng(0).bytes(2000),
    }
    paths = {}
    for name, data in made.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    return paths


def check_answer(answer: dict) -> None:
    """One model's answer: a class of the dataset and ten probabilities summing to 1."""
    assert answer["class"] in CLASS_NAMES
    assert answer["class"] == CLASS_NAMES[answer["label"]]
    probs = answer["probabilities"]
    assert len(probs) == 10 and all(0 <= p <= 1 for p in probs)
    assert math.isclose(sum(probs), 1, abs_tol=1e-3)
    assert max(range(10), key=probs.__getitem__) == answer["label"]
    assert isinstance(answer["as_drawn"], bool) and isinstance(answer["mirrored"], bool)


@pytest.mark.slow
def test_predict_json_for_every_kind_of_picture(pictures):
    """`predict --model all --json` crashed on every drawing (a numpy bool in `filled`)."""
    run = run_cli("predict", "--model", "all", "--json", *pictures.values())
    assert run.returncode == 1, run.stderr[-2000:]  # 1: one file could not be read
    results = strict_json(run.stdout)
    assert [r["image"] for r in results] == [str(p) for p in pictures.values()]
    by_name = {Path(r["image"]).name: r for r in results}
    bad = by_name.pop(UNREADABLE)
    assert set(bad) == {"image", "error"} and "not an image" in bad["error"]
    for name, r in by_name.items():
        assert isinstance(r["inverted"], bool) and isinstance(r["filled"], bool), name
        assert len(r["models"]) >= 2, name
        for answer in r["models"].values():
            check_answer(answer)
        head = r["headline"]
        assert head["class"] == CLASS_NAMES[head["label"]]
        assert head["model"] is None or head["model"] in r["models"]
        assert 0 <= head["agree"] <= head["others"] <= len(r["models"])
    # the outline drawing is found as one: its outline is filled into a silhouette
    assert by_name["outline.png"]["filled"]
    assert not by_name["test.png"]["filled"] and not by_name["upload.jpg"]["filled"]
    # dark on white is inverted to the dataset's light on black; light on black is not
    assert by_name["upload.jpg"]["inverted"] and by_name["silhouette.png"]["inverted"]
    assert not by_name["test.png"]["inverted"] and not by_name["canvas.png"]["inverted"]


@pytest.mark.slow
def test_explain_json_for_every_kind_of_picture(pictures):
    run = run_cli("explain", "cnn1", "--json", *pictures.values())
    assert run.returncode == 1, run.stderr[-2000:]
    results = strict_json(run.stdout)
    assert [r["image"] for r in results] == [str(p) for p in pictures.values()]
    bad = results.pop()
    assert set(bad) == {"image", "error"} and "not an image" in bad["error"]
    for r in results:
        assert r["model"] == "cnn1@shipped"
        assert r["class_name"] == CLASS_NAMES[r["class"]] and 0 <= r["probability"] <= 1
        assert np.asarray(r["attribution"]).shape == (28, 28)
        assert np.asarray(r["gradcam"]).shape == (28, 28)
        assert r["layers"] and all({"name", "type", "output_shape"} <= set(x) for x in r["layers"])


@pytest.mark.slow
def test_data_list_evaluate_and_label_issues_json(real_dataset):
    data = strict_json(run_cli("data", "--json", check=True).stdout)
    assert data["shapes"]["x_test"] == [10000, 28, 28] and isinstance(data["is_original"], bool)
    assert list(data["class_counts"]) == list(CLASS_NAMES)
    assert sum(c["train"] + c["test"] for c in data["class_counts"].values()) == 70_000

    rows = strict_json(run_cli("list", "--json", check=True).stdout)
    assert [r["name"] for r in rows] == list_models()
    for r in rows:
        assert r["test_accuracy"] is None or 0 <= r["test_accuracy"] <= 1
        assert all(isinstance(v["active"], bool) for v in r["versions"])

    report = strict_json(run_cli("evaluate", "baseline@shipped", "--json", check=True).stdout)
    assert report["name"] == "baseline" and report["version"] == "shipped"
    assert 0.5 < report["test_accuracy"] <= 1 and 0 <= report["ece"] <= 1
    assert list(report["per_class"]) == list(CLASS_NAMES)
    assert report["temperature"] > 0

    # the default run ships in assets: answered at once
    issues = strict_json(run_cli("label-issues", "--json", "--top", "5", check=True).stdout)
    assert [len(issues[k]) for k in ("indices", "given", "suggested", "scores")] == [5] * 4
    assert all(0 <= c <= 9 for c in issues["given"] + issues["suggested"])
    assert all(0 <= s <= 1 for s in issues["scores"])


def test_quiz_results_json_with_and_without_answers(database, real_dataset):
    from fmnist_core.classroom import quiz

    y = real_dataset.y_test
    token = quiz.start("json-quiz", "Ann")
    images = quiz.quiz_images("json-quiz", y)
    for position in range(len(images)):
        truth = int(y[images[position]])
        quiz.answer(quiz.progress(token, y), position, truth if position % 2 else 0, y)
    quiz.start("json-quiz", "Bob")  # started, not finished
    out = strict_json(run_cli("quiz-results", "json-quiz", "--json", check=True).stdout)
    assert out["finished"] == 1 and out["in_progress"] == 1
    assert [p["name"] for p in out["people"]] == ["Ann"]
    assert all(0 <= a <= 9 for a in out["people"][0]["answers"])
    assert all(v in (0.0, 1.0) for v in out["per_image"])
    # nobody answered yet: every image's share right is unknown, null (not NaN)
    empty = strict_json(run_cli("quiz-results", "nobody-yet", "--json", check=True).stdout)
    assert empty["people"] == [] and empty["per_image"] == [None] * len(empty["images"])
