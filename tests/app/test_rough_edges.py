"""Rough edges a newcomer saw, checked by element sizes in Chromium at 1400x1000: no decision
button on Data quality cuts its word ("Unsur"); the Models table shows every column without
a horizontal scroll bar (its last columns were cut: "Difference (poi..."); a clicked
confusion cell does not fade the others, and every cell stays inside its square (in the
class view too); Compare's names and reference labels do not cover each other."""

from __future__ import annotations

import uuid

import pytest
from conftest import click_settled


@pytest.mark.browser
@pytest.mark.slow
def test_data_quality_decision_buttons_fit_their_words(streamlit_url, page):
    page.goto(streamlit_url + "/quality", wait_until="domcontentloaded")
    page.get_by_text("Unsure").first.wait_for(timeout=180_000)
    cut = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=stButtonGroup] button')]
            .filter(b => b.offsetWidth > 0 && b.scrollWidth > b.clientWidth + 1)
            .map(b => b.innerText)"""
    )
    assert cut == []
    outside = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=stButtonGroup]')].filter(g => {
            const col = g.closest('[data-testid=stColumn]');
            if (!col) return false;
            const right = Math.max(...[...g.querySelectorAll('button')]
                .map(b => b.getBoundingClientRect().right));
            return right > col.getBoundingClientRect().right + 1; }).length"""
    )
    assert outside == 0
    assert page.locator("[data-testid='stException']").count() == 0


@pytest.mark.browser
@pytest.mark.slow
def test_the_models_table_fits_without_a_horizontal_scroll(streamlit_url, page):
    page.goto(streamlit_url + "/models", wait_until="domcontentloaded")
    table = page.get_by_test_id("stDataFrame").first
    table.wait_for(timeout=120_000)
    page.wait_for_timeout(1000)  # the grid sizes its columns after it first draws
    widths = table.evaluate(
        """t => { const s = t.querySelector('.dvn-scroller') || t;
                  return [s.scrollWidth, s.clientWidth]; }"""
    )
    assert widths[0] <= widths[1] + 1, widths


# the confusion matrices: each cell a rectangle (a shape below the numbers)
CELLS = """chart => {
    const paths = [...chart.querySelectorAll('.shapelayer path')];
    return paths.map(p => { const b = p.getBoundingClientRect();
        return {x: b.x + b.width / 2, y: b.y + b.height / 2, w: b.width,
                opacity: parseFloat(getComputedStyle(p).opacity)}; }); }"""
# what plotly fades on a selection: the points (numbers and click targets) and their text
FADED = """chart => [...chart.querySelectorAll('g.points path, g.points text, g.textpoint')]
    .filter(e => parseFloat(getComputedStyle(e).opacity) < 0.99).length"""


def _settled_cells(page, chart) -> list[dict]:
    """The cells once Plotly has finished laying them out (two looks 300 ms apart agree)."""
    last = None
    for _ in range(40):
        cells = chart.evaluate(CELLS)
        if cells == last and len(cells) == 100:
            return cells
        last = cells
        page.wait_for_timeout(300)
    return last


def _cells_fit_their_grid(cells: list[dict]) -> None:
    """100 cells in a 10x10 grid, each inside its own square: no marker wider than the step
    between neighbours (a wider one covers its neighbour's outline, which makes the diagonal's
    outlines look shifted by half a cell)."""
    assert len(cells) == 100
    xs = sorted({round(c["x"]) for c in cells})
    ys = sorted({round(c["y"]) for c in cells})
    assert len(xs) == len(ys) == 10, (xs, ys)
    step = min(min(b - a for a, b in zip(xs, xs[1:])), min(b - a for a, b in zip(ys, ys[1:])))
    widest = max(c["w"] for c in cells)
    assert widest <= step, f"cells {widest:.0f} px wide on a {step} px grid ({xs}, {ys})"


@pytest.mark.browser
@pytest.mark.slow
def test_a_clicked_cell_is_marked_without_fading_the_matrix(streamlit_url, page):
    page.goto(streamlit_url + "/confusion", wait_until="domcontentloaded")
    page.get_by_text("most confident first").wait_for(timeout=120_000)
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.locator("g.points path").nth(99).wait_for(timeout=30_000)
    box = chart.locator("g.points path").nth(4 * 10 + 6).bounding_box()  # Coat as Shirt
    assert box["width"] > 20  # invisible, but a cell's size: the click lands
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_text("are Coat and").wait_for(timeout=30_000)
    cells = _settled_cells(page, page.locator("[data-testid='stPlotlyChart']").first)
    faded = [c for c in cells if c["opacity"] < 0.99]
    assert faded == [], f"{len(faded)} cells faded after a click"
    assert page.locator("[data-testid='stPlotlyChart']").first.evaluate(FADED) == 0
    _cells_fit_their_grid(cells)
    page.locator("[data-testid='stPlotlyChart']").first.screenshot(
        path="/tmp/fmnist-cm-clicked.png"
    )


@pytest.mark.browser
@pytest.mark.slow
def test_the_class_views_matrices_keep_their_cells_in_the_grid(streamlit_url, page, real_dataset):
    from conftest import take_quiz

    code = f"edges-{uuid.uuid4().hex[:6]}"
    for name, right in (("Ann", 14), ("Bo", 9)):
        take_quiz(code, name, right, real_dataset.y_test)
    page.goto(f"{streamlit_url}/quiz?quiz={code}", wait_until="domcontentloaded")
    click_settled(page.get_by_role("radio", name="Class view"), timeout_s=120)
    for key in ("quiz_class_cm", "quiz_model_cm"):
        chart = page.locator(f".st-key-{key} [data-testid='stPlotlyChart']")
        chart.locator("g.points path").nth(99).wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    for key in ("quiz_class_cm", "quiz_model_cm"):
        chart = page.locator(f".st-key-{key} [data-testid='stPlotlyChart']")
        _cells_fit_their_grid(_settled_cells(page, chart))
        box = chart.bounding_box()
        assert box["x"] + box["width"] <= 1400  # side by side, both on the screen
    assert page.locator("[data-testid='stException']").count() == 0


@pytest.mark.browser
@pytest.mark.slow
def test_compares_names_and_references_do_not_cover_each_other(streamlit_url, page):
    """What each point of accuracy costs: against parameters, latency (every model within
    1-3 ms) and file size, no two labels on the chart overlap."""
    page.goto(streamlit_url + "/compare", wait_until="domcontentloaded")
    page.get_by_text("What each point of accuracy costs").wait_for(timeout=120_000)
    for cost in ("parameters", "Predict latency", "file size"):
        page.locator(".st-key-tradeoff_cost button").filter(has_text=cost).click()
        page.wait_for_timeout(500)
        page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
            timeout=120_000
        )
        chart = page.locator("[data-testid='stPlotlyChart']").last
        chart.scroll_into_view_if_needed()
        labels = []
        for _ in range(20):  # until plotly has drawn this cost's chart
            labels = chart.evaluate(
                """c => [...c.querySelectorAll('g.annotation')].map(a => {
                    const b = a.querySelector('.annotation-text').getBoundingClientRect();
                    return {text: a.textContent, x0: b.left, y0: b.top, x1: b.right, y1: b.bottom}; })"""
            )
            if len(labels) >= 12 and (cost != "Predict latency" or "ms" in chart.inner_text()):
                break
            page.wait_for_timeout(500)
        assert len(labels) >= 12, labels  # every model's name and the references
        overlaps = [
            (a["text"], b["text"])
            for i, a in enumerate(labels)
            for b in labels[i + 1 :]
            if a["x0"] < b["x1"] - 1 and b["x0"] < a["x1"] - 1
            and a["y0"] < b["y1"] - 1 and b["y0"] < a["y1"] - 1
        ]  # fmt: skip
        assert overlaps == [], f"{cost}: {overlaps}"
        chart.screenshot(path=f"/tmp/fmnist-compare-{cost.split()[-1]}.png")
