"""Compare and confusion-matrix pages in a real browser: warm render, switching model and cell.

Warm: the server has run the page once (models and results cached); we time from navigation
to the page's last element being shown. Goals: render <= 1.5 s, switching <= 0.5 s (median).
"""

import statistics
import time

from browser import chromium, streamlit_server

from fmnist_core.classes import CLASS_NAMES

ROUNDS = 9


def settle(page):
    """Wait until the app has finished its rerun (no running indicator), then a little more."""
    page.wait_for_timeout(200)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=30_000)
    page.wait_for_timeout(500)


def median_ms(values):
    return statistics.median(values) * 1000


with streamlit_server() as (url, _), chromium() as browser:
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    marks = {
        "compare": "What each point of accuracy costs",
        "confusion": "Misclassified images (CSV)",
    }
    for path, marker in marks.items():  # cold run: loads data and results into the server
        page.goto(f"{url}/{path}")
        page.get_by_text(marker).first.wait_for(timeout=120_000)
    for path, marker in marks.items():
        times = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            page.goto(f"{url}/{path}")
            page.get_by_text(marker).first.wait_for(timeout=60_000)
            page.locator("[data-testid='stPlotlyChart']").last.locator(".main-svg").first.wait_for()
            times.append(time.perf_counter() - start)
        print(
            f"{path:10s} warm render: median {median_ms(times):6.0f} ms (min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); goal <= 1500 ms"
        )

    # switching the cell by clicking the matrix, then the model with the selectbox
    page.goto(f"{url}/confusion")
    page.get_by_text("most confident first").wait_for(timeout=60_000)
    cells = page.locator("[data-testid='stPlotlyChart']").first.locator("g.points path")
    cells.nth(99).wait_for()
    settle(page)
    cell_times = []
    for t, p in [(6, 0), (4, 2), (2, 6), (0, 6), (9, 7)] * 2:
        box = cells.nth(t * 10 + p).bounding_box()
        start = time.perf_counter()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.get_by_text(f"are {CLASS_NAMES[t]} and").wait_for(timeout=30_000)
        cell_times.append(time.perf_counter() - start)
        settle(page)
    print(
        f"confusion  switch cell (click):   median {median_ms(cell_times):6.0f} ms (max {max(cell_times) * 1000:.0f}); goal <= 500 ms"
    )

    model_times = []
    options = None
    for k in range(6):
        page.locator("[data-testid='stSelectbox']").first.click()
        listbox = page.get_by_role("option")
        listbox.first.wait_for()
        options = options or [listbox.nth(i).inner_text() for i in range(listbox.count())]
        name = options[k % len(options)]
        start = time.perf_counter()
        page.get_by_role("option", name=name, exact=True).click()
        page.get_by_text(f" and {name} said").wait_for(timeout=30_000)
        model_times.append(time.perf_counter() - start)
        settle(page)
    print(
        f"confusion  switch model (select): median {median_ms(model_times):6.0f} ms (max {max(model_times) * 1000:.0f}); goal <= 500 ms"
    )
