"""Shared fixtures: the real dataset, an isolated cache, a Streamlit server, a real browser."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Tests never touch the user's cache and never download: set before fmnist_core is imported.
_SESSION_CACHE = Path(tempfile.mkdtemp(prefix="fmnist-test-cache-"))
os.environ["FMNIST_CACHE_DIR"] = str(_SESSION_CACHE)
os.environ["FMNIST_OFFLINE"] = "1"
# no background UMAP compile in every test process and test server (tests/test_embed.py
# runs the warm-up itself)
os.environ["FMNIST_WARM_UP"] = "0"
# tests change version folders directly and look at once: no second of reuse (test_versions
# checks the reuse itself)
os.environ.setdefault("FMNIST_STATE_POLL_S", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REQUIRE_REAL_DATA = os.environ.get("FMNIST_REQUIRE_REAL_DATA", "") not in ("", "0")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing(reason: str):
    if REQUIRE_REAL_DATA:
        pytest.fail(f"FMNIST_REQUIRE_REAL_DATA is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def real_dataset():
    """The real Fashion-MNIST (Debian package, FMNIST_DATA_DIR or Keras cache)."""
    from fmnist_core.data.fashion_mnist import DatasetError, load_dataset

    try:
        return load_dataset()
    except DatasetError as e:
        _missing(f"the real dataset is not available: {e}")


@pytest.fixture(scope="session")
def real_source_dir(real_dataset) -> Path:
    return real_dataset.source.location


def run_cli(
    *args, env: dict | None = None, timeout: float = 300, check: bool = False
) -> subprocess.CompletedProcess:
    """`python -m fmnist_core ARGS` as a user runs it, from the repository root, its output
    captured as text. `env`: the whole environment (default: this process's, which holds the
    tests' cache); `check`: raise if it exits other than 0."""
    return subprocess.run(
        [sys.executable, "-m", "fmnist_core", *map(str, args)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=check,
    )  # fmt: skip


POSTGRES_URL = os.environ.get("FMNIST_TEST_DATABASE_URL", "")
REQUIRE_POSTGRES = os.environ.get("FMNIST_REQUIRE_POSTGRES", "") not in ("", "0")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path, monkeypatch) -> str:
    """The store on a fresh SQLite file under a private cache, then on a real PostgreSQL
    (FMNIST_TEST_DATABASE_URL; CI starts one, see .ci/run), emptied first."""
    from fmnist_core.classroom import store

    monkeypatch.setenv("FMNIST_CACHE_DIR", str(tmp_path / "cache"))
    if request.param == "sqlite":
        monkeypatch.delenv("FMNIST_DATABASE_URL", raising=False)
    else:
        if not POSTGRES_URL:
            if REQUIRE_POSTGRES:
                pytest.fail("FMNIST_REQUIRE_POSTGRES is set but FMNIST_TEST_DATABASE_URL is not")
            pytest.skip("no PostgreSQL: set FMNIST_TEST_DATABASE_URL (CI does)")
        monkeypatch.setenv("FMNIST_DATABASE_URL", POSTGRES_URL)
        store.metadata.drop_all(store.engine())
    store._engine.cache_clear()  # the next engine() creates the tables afresh
    yield request.param
    store._engine.cache_clear()


def load_deploy(name: str):
    """deploy/<name>.py as a module (deploy/ is scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"fmnist_deploy_{name}", ROOT / "deploy" / f"{name}.py"
    )
    if spec.name in sys.modules:
        return sys.modules[spec.name]
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)  # registered first: its dataclasses look themselves up
    return module


def haproxy_or_skip(serve) -> None:
    """Skip without Debian's haproxy; fail instead where the browser tests are required (CI)."""
    if serve.find_haproxy() is None:
        reason = f"{serve.HAPROXY} is missing (apt-get install haproxy)"
        if os.environ.get("FMNIST_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail(reason)
        pytest.skip(reason)


def add_shipped_copy_as_run(cache: Path, name: str, run: str) -> None:
    """A second version of `name` in `cache`: its shipped artifact saved as run `run`."""
    folder = cache / "versions" / name / run
    folder.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "assets" / "models" / name, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "version_id": run}))


@pytest.fixture(scope="session")
def local_pg():
    """A throwaway PostgreSQL cluster (deploy/local_postgres.py) that a test may stop and
    start: never the one other tests use. Needs Debian's postgresql (CI installs it)."""
    module = load_deploy("local_postgres")
    if module.bin_dir() is None:
        if REQUIRE_POSTGRES:
            pytest.fail("FMNIST_REQUIRE_POSTGRES is set but PostgreSQL's initdb is missing")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with module.local_postgres() as pg:
        yield pg


@pytest.fixture()
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """A fresh, empty cache folder for this test only."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("FMNIST_CACHE_DIR", str(cache))
    return cache


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_streamlit(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` as a user starts it, on a free port, with `env`; returns the
    process and its URL once it answers."""
    port = _free_port()
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
        if proc.poll() is not None:
            pytest.fail("streamlit exited: " + log_path.read_text())
    proc.kill()
    pytest.fail("streamlit did not become healthy in 90 s")


def stop_streamlit(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def streamlit_url(real_dataset):
    """The app in personal mode on the session's cache folder; yields its URL."""
    proc, url = start_streamlit(dict(os.environ), _SESSION_CACHE / "streamlit.log")
    yield url
    stop_streamlit(proc)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("FMNIST_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def click_settled(locator, timeout_s: float = 60) -> None:
    """Click once the app is idle and the element has held still for three looks.

    Right after an expander opens, Streamlit is still laying out what is inside it; a click in
    that moment can land beside the button, and the app never hears of it (one click in about
    thirty on the Models page's version panel, measured). A person clicks what they see;
    this waits until what is seen holds still."""
    page = locator.page
    deadline = time.time() + timeout_s
    idle = page.locator("[data-testid='stApp'][data-test-script-state='notRunning']")
    idle.wait_for(timeout=timeout_s * 1000)
    locator.scroll_into_view_if_needed(timeout=timeout_s * 1000)
    last, still = None, 0
    while still < 3 and time.time() < deadline:
        box = locator.bounding_box()
        still = still + 1 if box is not None and box == last else 0
        last = box
        page.wait_for_timeout(100)
    locator.click()


def take_quiz(code: str, name: str, right: int, y, upto: int | None = None) -> str:
    """A participant in quiz `code` who answers `upto` questions (all by default), the first
    `right` of them correctly; returns their token."""
    from fmnist_core.classroom import quiz

    token = quiz.start(code, name)
    p = quiz.progress(token, y)
    for position in range(quiz.QUESTIONS if upto is None else upto):
        truth = int(y[p.images[position]])
        quiz.answer(p, position, truth if position < right else (truth + 1) % 10, y)
    return token


def wait_for_job(timeout: float = 600, poll: float = 0.5) -> dict:
    """Block until the current training job is no longer active; its last status."""
    from fmnist_core.training import jobs

    deadline = time.time() + timeout
    while time.time() < deadline:
        status = jobs.read_status() or {}
        if status.get("state") not in jobs.ACTIVE:
            return status
        if status.get("state") == "running" or time.time() - status.get("started", 0) > 5:
            jobs.recover_stale_lock()  # clears the lock (and marks the job failed) if it died
        time.sleep(poll)
    raise TimeoutError("the training job did not finish in time")


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()
