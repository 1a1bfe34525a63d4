"""Shared by the browser benchmarks: a `streamlit run app.py` server and headless Chromium."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@contextlib.contextmanager
def streamlit_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy(),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(180):
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(10)


def deploy_module(name: str):
    """deploy/<name>.py as a module (deploy/ is a folder of scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"fmnist_{name}", ROOT / "deploy" / f"{name}.py")
    if spec.name in sys.modules:
        return sys.modules[spec.name]
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)  # registered first: its dataclasses look themselves up
    return module


@contextlib.contextmanager
def streamlit_servers(n: int, **kwargs):
    """`n` app servers behind HAProxy (deploy/serve.py), on this process's environment;
    yields the deployment (its .url is the proxy's, .server_urls and .servers each server's)."""
    with deploy_module("serve").serving(n, **kwargs) as deployment:
        yield deployment


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def peak_memory_mib(pid: int) -> float:
    """A process's peak resident memory (VmHWM), read while it still runs."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def print_load_results(
    actions_ms,
    errors,
    label: str = "action latency",
    what: str = "uploads and drawings, each answered by every model",
) -> None:
    """The load tests' common lines: completed actions, errors (first ten), latency."""
    import numpy as np

    lat = np.asarray(actions_ms, dtype=float)
    print(f"actions completed: {len(lat)} ({what})")
    print(f"errors: {len(errors)}")
    for e in errors[:10]:
        print("   ", e)
    if len(lat):
        print(
            f"{label}: p50 {np.percentile(lat, 50):.0f} ms, p95 {np.percentile(lat, 95):.0f} ms, "
            f"max {lat.max():.0f} ms"
        )
