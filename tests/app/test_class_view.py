"""The quiz's class view in class mode: a student sees the class as a whole and no names; the
teacher sees names, each person's answers and the CSV, the projector mode (QR code, link,
live counts) and the teacher tools (erase the quiz, reset the class demo); personal mode is
the teacher. The QR code decodes (zbarimg) to the quiz's join link, in a real browser too."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import click_settled
from conftest import take_quiz as _take
from streamlit.testing.v1 import AppTest

from fmnist_core import versions
from fmnist_core.classroom import join, quiz, store
from fmnist_core.roles import PASSWORD_ENV, Actor

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "quiz.py")
CODE = "class-7b"
TEACHER = Actor("Ms Smith", "teacher", "teacher")
SAM = Actor("Sam", "student", "sam-0002")
# classmates: names that appear nowhere else on the page
FINISHED = {"Xanthe Quigley": 15, "Ulrich Vandersloot": 18, "Wilhelmina Okafor": 11}
ANSWERING = "Yevgenia Prokop"


@pytest.fixture()
def class_quiz(real_dataset, isolated_cache, monkeypatch) -> dict[str, str]:
    """A fresh SQLite store (in a private cache) holding quiz CODE: three classmates finished,
    one still answering. Returns each name's token."""
    monkeypatch.delenv("FMNIST_DATABASE_URL", raising=False)
    store._engine.cache_clear()
    y = real_dataset.y_test
    tokens = {name: _take(CODE, name, right, y) for name, right in FINISHED.items()}
    tokens[ANSWERING] = _take(CODE, ANSWERING, 5, y, upto=7)
    yield tokens
    store._engine.cache_clear()


def class_view(actor: Actor | None, **state) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=240)
    if actor is not None:
        at.session_state["_actor"] = actor
    for key, value in state.items():
        at.session_state[key] = value
    at.query_params["quiz"] = CODE
    at.run()
    at.segmented_control(key="quiz_view").set_value("Class view").run()
    assert not at.exception, at.exception
    assert at.text_input(key="class_code").value == CODE
    return at


def _nodes(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _nodes(child)


def page_text(at: AppTest) -> str:
    """Everything the page sends: every element's message (text, tables' bytes, figures'
    JSON) and every table's values."""
    parts = [str(getattr(n, "proto", "")) for n in _nodes(at._tree)]
    parts += [df.value.to_string() for df in at.dataframe]
    return "\n".join(parts)


def texts(at: AppTest) -> str:
    return "\n".join(e.value for kind in (at.caption, at.markdown, at.info) for e in kind)


def histogram_json(at: AppTest) -> str:
    chart = next(c for c in at.get("plotly_chart") if "people in this class" in c.proto.spec)
    return chart.proto.spec


def test_a_student_sees_the_class_without_names(class_quiz, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    at = class_view(SAM)
    shown = page_text(at)
    assert "Quiz `class-7b`: 3 finished; 1 still answering." in texts(at)
    assert len(at.get("plotly_chart")) == 3  # the histogram, the class's and a model's matrix
    assert any("most said" in c for img in at.image for c in img.captions)  # hardest images
    for name in [*FINISHED, ANSWERING]:
        assert name not in shown and name.split()[1] not in shown
    assert not at.dataframe and not at.download_button
    assert "Only the teacher sees the names and answers of a quiz." in texts(at)
    # no teacher controls, one line that the teacher has them
    assert "class_projector" not in [t.key for t in at.toggle]
    assert not [b for b in at.button if b.key in ("class_erase", "class_reset")]
    assert "Only the teacher erases a quiz's results. Only the teacher resets" in texts(at)
    assert "you:" not in histogram_json(at)  # Sam did not take this quiz


def test_a_student_who_took_the_quiz_sees_their_own_score(class_quiz, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    at = class_view(SAM, quiz_participant=class_quiz["Ulrich Vandersloot"])
    assert "you: 90%" in histogram_json(at)  # 18 of 20
    assert "Ulrich" not in page_text(at)


@pytest.mark.parametrize("mode", ["teacher", "personal"])
def test_the_teacher_sees_names_answers_and_the_csv(class_quiz, monkeypatch, real_dataset, mode):
    if mode == "teacher":
        monkeypatch.setenv(PASSWORD_ENV, "pw")
        at = class_view(TEACHER)
    else:  # personal mode: whoever runs the app is the teacher
        monkeypatch.delenv(PASSWORD_ENV, raising=False)
        at = class_view(None)
    table = at.dataframe[0].value
    assert table["Name"].tolist() == list(FINISHED)  # in the order they started
    assert table["Score"].tolist() == ["75%", "90%", "55%"]
    questions = [f"Q{i}" for i in range(1, 21)]
    assert list(table.columns) == ["Name", "Score", *questions]
    first = table[questions].iloc[0].tolist()  # Xanthe: the first 15 right
    assert first == ["✓"] * 15 + ["✗"] * 5
    shown = page_text(at)
    assert all(name in shown for name in FINISHED)  # page_text sees the names when sent
    assert ANSWERING not in shown  # not finished: not in the results yet
    assert [b.label for b in at.download_button] == ["Every answer (CSV)"]
    csv_text = quiz.results_csv(CODE, real_dataset.y_test, TEACHER)  # what the button sends
    assert all(name in csv_text for name in FINISHED)
    assert "Only the teacher sees" not in texts(at)
    assert "class_projector" in [t.key for t in at.toggle]


def test_projector_mode_shows_the_qr_link_and_counts_without_names(class_quiz, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    at = class_view(TEACHER)
    at.toggle(key="class_projector").set_value(True).run()
    assert not at.exception
    shown = page_text(at)
    assert "3 joined &nbsp;·&nbsp; 3 finished" not in shown  # 4 joined: one still answering
    assert "4 joined &nbsp;·&nbsp; 3 finished" in shown
    link = join.join_link(join.base_url(None), CODE)  # no browser in AppTest: the LAN address
    assert join.short_link(link).replace("/quiz?", "<wbr>/quiz?") in shown
    assert len(at.image) >= 2  # the QR code, then the hardest images
    for name in FINISHED:  # the class's screen: results without names, no CSV, no tools
        assert name not in shown
    assert not at.dataframe and not at.download_button
    assert not [b for b in at.button if b.key in ("class_erase", "class_reset")]


def test_the_teacher_erases_the_quiz_after_confirming(class_quiz, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    at = class_view(TEACHER)
    erase = at.button(key="class_erase")
    assert erase.disabled  # until the confirmation is ticked
    sure = at.checkbox(key="class_erase_sure")
    assert "4 people, 3 of them finished" in sure.label
    sure.check().run()
    at.button(key="class_erase").click().run()
    assert not at.exception
    assert quiz.counts(CODE) == (0, 0)
    assert "Quiz `class-7b` erased: 4 people's answers are gone" in at.success[0].value
    assert "Nobody has finished quiz `class-7b` yet." in texts(at)
    # a student cannot, even by calling the core
    with pytest.raises(Exception, match="Only|only"):
        quiz.erase(CODE, SAM)


def test_the_teacher_resets_the_demo_after_a_confirmation_listing_the_changes(
    class_quiz, monkeypatch
):
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    plan = [("twoconv", "run-20260101-abc"), ("resnet", "run-20260102-def")]
    calls: list[Actor] = []

    def reset(*, actor):
        calls.append(actor)
        return plan

    monkeypatch.setattr(versions, "reset_plan", lambda: plan)
    monkeypatch.setattr(versions, "reset_to_shipped", reset)
    at = class_view(TEACHER)
    assert "- **twoconv**: version `run-20260101-abc` → shipped" in texts(at)
    assert "- **resnet**: version `run-20260102-def` → shipped" in texts(at)
    assert at.button(key="class_reset").disabled
    at.checkbox(key="class_reset_sure").check().run()
    at.button(key="class_reset").click().run()
    assert not at.exception
    assert calls == [TEACHER]
    assert "every model is on its shipped version (twoconv, resnet)" in at.success[0].value
    monkeypatch.setattr(versions, "reset_plan", lambda: [])
    assert "nothing to reset" in texts(class_view(TEACHER))


# --------------------------------------------------------------------------- the QR code


def zbarimg() -> str:
    found = shutil.which("zbarimg")
    if found is None:
        if os.environ.get("FMNIST_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail("zbarimg is missing (apt-get install zbar-tools)")
        pytest.skip("zbarimg is missing (apt-get install zbar-tools)")
    return found


def decode_qr(png: Path) -> str:
    out = subprocess.run([zbarimg(), "--quiet", "--raw", str(png)], capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_qr_code_decodes_to_the_join_link(tmp_path):
    zbarimg()
    link = join.join_link("http://192.168.1.20:8501/", " Class 7B ")
    assert link == "http://192.168.1.20:8501/quiz?quiz=class-7b"
    png = tmp_path / "qr.png"
    png.write_bytes(join.qr_png(link))
    assert decode_qr(png) == link
    svg = join.qr_svg(link)
    assert svg.lstrip().startswith("<svg") and "<?xml" not in svg


def test_the_link_is_the_servers_network_address():
    def base(url=None, **kw):
        return join.base_url(url, lan=lambda: "10.1.2.3", **kw)

    # the teacher's browser on localhost: this machine's LAN address, server.port, base path
    assert base("http://localhost:8501/quiz") == "http://10.1.2.3:8501"
    assert base("http://127.0.0.1:8612/", port=8612) == "http://10.1.2.3:8612"
    assert base(None, port=8612, base_path="/fmnist/") == "http://10.1.2.3:8612/fmnist"
    # a network address in the browser: what the teacher reached, the class reaches
    assert base("http://192.168.1.5:8501/quiz") == "http://192.168.1.5:8501"
    assert base("https://ml.school.org/app/quiz", base_path="app") == "https://ml.school.org/app"
    # browser.serverAddress, when set, wins (without the default port of its scheme)
    assert base("http://localhost:8501", server_address="ml.school.org", port=80) == (
        "http://ml.school.org"
    )
    assert base(None, server_address="https://ml.school.org/x", port=8443) == (
        "https://ml.school.org:8443/x"
    )
    assert base(None, server_address="localhost", port=8501) == "http://10.1.2.3:8501"
    assert base("http://[::1]:8501/") == "http://10.1.2.3:8501"
    for loop in ("localhost", "127.0.0.1", "127.0.1.1", "::1", "0.0.0.0", "app.localhost"):
        assert join.is_loopback(loop)
    assert not join.is_loopback("192.168.1.5") and not join.is_loopback("ml.school.org")
    assert join.short_link("http://10.1.2.3:8501/quiz?quiz=a-b") == "10.1.2.3:8501/quiz?quiz=a-b"
    found = join.lan_address()  # found without the internet; loopback only with no network
    assert found == "127.0.0.1" or not join.is_loopback(found)


@pytest.mark.browser
def test_projector_mode_in_a_real_browser_shows_a_scannable_qr(
    streamlit_url, page, real_dataset, tmp_path
):
    """Personal mode (the test server): the user is the teacher. The QR code on the screen
    scans to the quiz's link, and the counts follow people joining."""
    zbarimg()
    code = f"proj-{uuid.uuid4().hex[:6]}"
    y = real_dataset.y_test
    _take(code, "Ann", 12, y)
    _take(code, "Bo", 3, y, upto=4)
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{streamlit_url}/quiz?quiz={code}", wait_until="domcontentloaded")
    click_settled(page.get_by_role("radio", name="Class view"), timeout_s=120)
    toggle = page.get_by_text("Projector mode")
    toggle.wait_for(timeout=60_000)
    click_settled(toggle)
    qr = page.locator(".st-key-quiz_qr [data-testid='stImage'] img")
    qr.wait_for(timeout=60_000)
    page.get_by_text("2 joined · 1 finished").wait_for(timeout=30_000)
    page.wait_for_timeout(500)  # the image laid out at its size
    box = qr.bounding_box()
    assert box["width"] >= 400 and box["y"] + box["height"] <= 720  # large, on the first screen
    shot = tmp_path / "qr.png"
    qr.screenshot(path=str(shot))
    decoded = decode_qr(shot)
    port = int(streamlit_url.rsplit(":", 1)[1])
    assert decoded.endswith(f"/quiz?quiz={code}")
    assert decoded == join.join_link(join.base_url(streamlit_url, port=port), code)
    assert not join.is_loopback(decoded.split("//")[1].split(":")[0]) or (
        join.lan_address() == "127.0.0.1"  # a machine with no network at all
    )
    _take(code, "Cy", 0, y, upto=1)  # someone joins: the count follows within seconds
    page.get_by_text("3 joined · 1 finished").wait_for(timeout=15_000)
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(tmp_path / "projector.png"))
