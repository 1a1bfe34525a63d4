"""End to end with real browsers (not run by run_all.py; bench_load.py is the load benchmark):
20 browser sessions against one `streamlit run app.py` server, each
drawing and uploading images on the Predict page for 60 s.

Reports errors (goal: zero), p50/p95 latency from the action to every model's answer being on
screen, and the server's peak memory (VmHWM). Set SESSIONS / SECONDS to change the load.
"""

import asyncio
import io
import os
import time

import numpy as np
from browser import CHROMIUM, FLAGS, peak_memory_mib, print_load_results, streamlit_server
from PIL import Image

from fmnist_core.data.fashion_mnist import load_dataset

SESSIONS = int(os.environ.get("SESSIONS", 20))
SECONDS = float(os.environ.get("SECONDS", 60))
# 20 Chromium tabs and the server share this machine's 2 cores: the browsers, not the server,
# are then the slow part, so clients wait up to 3 minutes before counting an action as failed.
CLIENT_TIMEOUT = 180_000
ds = load_dataset()


def upload_png(k: int) -> bytes:
    img = Image.fromarray(255 - ds.x_test[k % 10000]).resize((160, 160)).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


async def settle(page):
    await page.wait_for_timeout(150)
    await page.locator("[data-testid='stStatusWidget']").wait_for(
        state="hidden", timeout=CLIENT_TIMEOUT
    )


async def session(browser, url, sid, latencies, errors):
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    try:
        await page.goto(url + "/predict")
        await page.get_by_role("radio", name="Upload").wait_for(timeout=CLIENT_TIMEOUT)
        end = time.perf_counter() + SECONDS
        k = sid * 1000
        while time.perf_counter() < end:
            k += 1
            if k % 2:  # upload a fresh file
                await page.get_by_role("radio", name="Upload").click()
                await settle(page)
                name = f"s{sid}-{k}.png"
                start = time.perf_counter()
                await page.locator("input[type='file']").set_input_files(
                    {"name": name, "mimeType": "image/png", "buffer": upload_png(k)},
                    timeout=CLIENT_TIMEOUT,
                )
                await page.get_by_role("heading", name=name).wait_for(timeout=CLIENT_TIMEOUT)
                await (
                    page.get_by_text("model says")
                    .or_(page.get_by_text("models say"))
                    .or_(page.get_by_text("models disagree"))
                    .first.wait_for(timeout=CLIENT_TIMEOUT)
                )
                await settle(page)
            else:  # draw a stroke
                await page.get_by_role("radio", name="Draw").click()
                # fabric.js adds the upper canvas once it is ready for strokes
                canvas = page.locator("canvas.upper-canvas")
                await canvas.wait_for(timeout=CLIENT_TIMEOUT)
                await settle(page)
                box = await canvas.bounding_box()
                x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.2
                start = time.perf_counter()
                await page.mouse.move(x0, y0)
                await page.mouse.down()
                for j in range(1, 10):
                    await page.mouse.move(x0 + (j > 5) * 60, y0 + 18 * j, steps=2)
                await page.mouse.up()
                await settle(page)
                await page.get_by_role("button", name="Classify").click()
                await page.get_by_role("heading", name="Your drawing").wait_for(
                    timeout=CLIENT_TIMEOUT
                )
                await settle(page)
            latencies.append(time.perf_counter() - start)
            if await page.locator("[data-testid='stException']").count():
                errors.append(f"session {sid}: exception on the page")
    except Exception as e:  # a timeout or a crash is an error of the run
        errors.append(f"session {sid}: {type(e).__name__}: {str(e)[:600].replace(chr(10), ' | ')}")
    finally:
        await context.close()


async def main():
    from playwright.async_api import async_playwright

    with streamlit_server() as (url, proc):
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            latencies, errors = [], []
            start = time.perf_counter()
            await asyncio.gather(
                *(session(browser, url, i, latencies, errors) for i in range(SESSIONS))
            )
            took = time.perf_counter() - start
            await browser.close()
        peak = peak_memory_mib(proc.pid)
    print(f"{SESSIONS} sessions x {SECONDS:.0f} s against one server ({took:.0f} s in all)")
    print_load_results(np.array(latencies) * 1000, errors, "latency")
    print(f"server peak memory (VmHWM): {peak:.0f} MiB")


asyncio.run(main())
