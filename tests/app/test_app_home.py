"""The home page, run headless by Streamlit's AppTest and in a real browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fmnist_core import CLASS_NAMES

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_home_shows_the_nine_images_and_every_class(real_dataset):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert at.title[0].value == "Fashion-MNIST CNN Explorer"
    assert len(at.image) == 4 + 9 + 10  # an action's picture each, nine images, a row per class
    links = {e.proto.page: (e.proto.label, e.proto.query_string) for e in at.get("page_link")}
    assert links == {
        "predict": ("Draw a piece of clothing", ""),
        "quiz": ("Take the quiz", ""),
        "confusion": ("Where models go wrong", "true=Shirt&pred=T-shirt%2Ftop"),
        "inside": ("Look inside a CNN", "image=0"),
    }
    texts = " ".join(c for e in at.image for c in e.captions)
    y = real_dataset.y_train
    for i in range(9):
        assert f"{y[i]}: {CLASS_NAMES[y[i]]}" in texts
    for c, name in enumerate(CLASS_NAMES):
        assert f"{c}: {name}" in texts
    assert [m.value for m in at.metric][:2] == ["60,000", "10,000"]
    assert "Debian" in " ".join(m.value for m in at.markdown) or "FMNIST_DATA_DIR" in " ".join(
        m.value for m in at.markdown
    )


def test_home_without_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_DATA_DIR", str(tmp_path / "nothing-here"))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert "not available" in at.error[0].value
    assert "apt-get install dataset-fashion-mnist" in at.info[0].value
    # the actions are still there (drawing needs no dataset); only the dataset's pictures go
    assert len(at.image) == 1 and len(at.get("page_link")) == 4


@pytest.mark.browser
def test_home_in_a_real_browser(streamlit_url, page, tmp_path):
    page.goto(streamlit_url, wait_until="domcontentloaded")
    page.get_by_text("The first nine training images").wait_for(timeout=60_000)
    page.get_by_text("Ten examples of every class").wait_for(timeout=60_000)
    images = page.locator("[data-testid='stImage'] img")
    images.nth(22).wait_for(timeout=30_000)
    assert images.count() == 23
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(tmp_path / "home.png"))
    # the first screen (1400x1000): the four actions' pictures and their links, in view
    for i in range(4):
        assert _in_view(page, images.nth(i))
    for label in ("Draw a piece of clothing", "Take the quiz", "Where models go wrong",
                  "Look inside a CNN"):  # fmt: skip
        assert _in_view(page, page.get_by_role("link", name=label))
    # the sidebar's sections
    nav = page.locator("[data-testid='stSidebarNav']").inner_text()
    assert [s for s in ("Try it", "Look inside", "Judge the models", "Build") if s in nav] == [
        "Try it", "Look inside", "Judge the models", "Build"]  # fmt: skip
    # drawing is one click away: Predict opens ready to draw
    page.get_by_role("link", name="Draw a piece of clothing").click()
    page.wait_for_url("**/predict", timeout=30_000)
    page.locator(".st-key-source [role='radio'][aria-checked='true']").filter(
        has_text="Draw"
    ).wait_for(timeout=60_000)
    page.locator("canvas.upper-canvas").wait_for(timeout=60_000)


def _in_view(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["width"] > 0
        and box["y"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and box["x"] + box["width"] <= size["width"]
    )


def test_script_runs_keep_the_shared_keras_state():
    # Streamlit calls keras.backend.clear_session() after every script run; the app turns
    # that off (models are shared by all sessions, and it cost 0.3 s of every run). Keras'
    # name counters show whether a clear happened: they restart at "dense" after a clear.
    import keras
    from streamlit.runtime.scriptrunner import script_runner

    import fmnist_core.ui  # noqa: F401  (installs the change)

    keras.layers.Dense(1)
    script_runner._clean_problem_modules()
    assert keras.layers.Dense(1).name != "dense"
    keras.backend.clear_session()  # the check can fail: a real clear restarts the names
    assert keras.layers.Dense(1).name == "dense"


def test_project_config_turns_off_the_garbage_collection_after_every_run():
    import tomllib

    config = tomllib.loads(
        (Path(__file__).resolve().parents[2] / ".streamlit/config.toml").read_text()
    )
    assert config["runner"]["postScriptGC"] is False


def test_project_config_turns_off_source_watching_and_streamlit_reads_it():
    """Each session's source watcher cost a classroom server most of its CPU (bench_load)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    # Streamlit reads ./.streamlit/config.toml from the folder it runs in: ask it there
    code = (
        "from streamlit import config; config.get_config_options(force_reparse=True); "
        "print(config.get_option('server.fileWatcherType'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert out.stdout.strip() == "none", out.stderr[-500:]


def test_streamlit_still_needs_both_patches_and_they_still_apply():
    """Fails when a Streamlit upgrade makes a patch unneeded or breaks what it relies on
    (fmnist_core/ui/streamlit_patches.py, verified with VERIFIED_WITH)."""
    import keras
    import streamlit
    from streamlit.runtime.pages_manager import PagesManager

    from fmnist_core.ui import streamlit_patches as patches

    # 1. Streamlit's own cleanup still clears Keras after a run: the patch is still needed
    assert patches.STREAMLIT_CLEANUP is not None
    keras.layers.Dense(1)
    patches.STREAMLIT_CLEANUP()
    assert keras.layers.Dense(1).name == "dense", "Streamlit no longer clears Keras: drop it"
    # 2. a pages/ folder beside the main script still switches on the old multipage mode
    #    until st.navigation runs, through the class attribute run_through_app resets
    assert "uses_pages_directory" in vars(PagesManager)
    saved = PagesManager.uses_pages_directory
    try:
        PagesManager.uses_pages_directory = None
        PagesManager(str(Path(APP)))
        assert PagesManager.uses_pages_directory is True, "pages/ is no longer special: drop it"
    finally:
        PagesManager.uses_pages_directory = saved
    if streamlit.__version__ != patches.VERIFIED_WITH:
        pytest.fail(
            f"Streamlit {streamlit.__version__}: check both patches against it, then update "
            f"VERIFIED_WITH (now {patches.VERIFIED_WITH})"
        )


@pytest.mark.slow
def test_the_core_imports_without_streamlit():
    """Only fmnist_core.ui imports streamlit: the core works where it is not installed."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.modules['streamlit'] = None  # any import of it fails\n"
        "import pkgutil, importlib, fmnist_core\n"
        "names = [m.name for m in pkgutil.walk_packages(fmnist_core.__path__, 'fmnist_core.')]\n"
        "for n in names:\n"
        "    if not n.startswith('fmnist_core.ui') and n != 'fmnist_core.__main__':\n"
        "        importlib.import_module(n)\n"
        "print(len(names))\n"
    )
    root = Path(APP).parent
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip()) >= 40
