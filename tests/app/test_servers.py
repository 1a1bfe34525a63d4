"""Several servers behind HAProxy (deploy/serve.py): each browser stays on one server (the
proxy's SERVERID cookie), and what the teacher chooses through one server is what every server
shows, since they share the cache folder."""

from __future__ import annotations

import json
import os
import re

import pytest
from conftest import add_shipped_copy_as_run, click_settled, haproxy_or_skip, load_deploy, run_cli

RUN = "20261205-000000-srv2"  # a run of twoconv: its shipped artifact copied as a version


serve = load_deploy("serve")


@pytest.fixture(scope="module")
def two_servers(real_dataset, tmp_path_factory):
    """Two app servers and HAProxy in front, on a cache folder of their own."""
    haproxy_or_skip(serve)
    cache = tmp_path_factory.mktemp("servers-cache")
    add_shipped_copy_as_run(cache, "twoconv", RUN)
    env = {**os.environ, "FMNIST_CACHE_DIR": str(cache)}
    with serve.serving(2, env=env, log_dir=cache / "logs") as deployment:
        yield deployment, env


def _server_of(page) -> str:
    """Which server the proxy sends this browser to: its affinity cookie's value."""
    return next((c["value"] for c in page.context.cookies() if c["name"] == serve.COOKIE), "")


def _open_models(browser, url: str):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(url + "/models", wait_until="domcontentloaded")
    page.get_by_text("twoconv: 2 versions; in use:").first.wait_for(timeout=120_000)
    return page


def _in_use(page, version: str):
    return page.get_by_test_id("stExpander").filter(
        has_text=re.compile(rf"twoconv: 2 versions; in use: {version}")
    )


@pytest.mark.browser
@pytest.mark.slow
def test_a_choice_through_one_server_is_seen_through_the_other(two_servers, browser):
    deployment, env = two_servers
    teacher = _open_models(browser, deployment.url)
    first = _server_of(teacher)
    assert first in deployment.names()
    others = []  # fresh browsers (no cookie) until the proxy sends one to the other server
    for _ in range(6):
        other = _open_models(browser, deployment.url)
        others.append(other)
        if _server_of(other) not in ("", first):
            break
    second = _server_of(other)
    assert second in deployment.names() and second != first, [_server_of(p) for p in others]
    for page in (teacher, other):
        _in_use(page, "shipped").wait_for(timeout=60_000)

    # personal mode: the one person is the teacher; their choice, through the first server
    panel = _in_use(teacher, "shipped")
    click_settled(panel.get_by_text("in use: shipped"))  # open the expander
    click_settled(panel.get_by_role("button", name="Use this version"))
    _in_use(teacher, RUN).wait_for(timeout=60_000)
    listed = json.loads(run_cli("list", "--json", env=env, check=True).stdout)
    assert [
        v["id"] for r in listed if r["name"] == "twoconv" for v in r["versions"] if v["active"]
    ] == [RUN]

    # the other browser, on the other server: a reload shows it (still on the same server)
    other.reload(wait_until="domcontentloaded")
    _in_use(other, RUN).wait_for(timeout=30_000)
    assert _server_of(other) == second and _server_of(teacher) == first
    for page in (teacher, *others):
        assert page.locator("[data-testid='stException']").count() == 0
        page.context.close()
