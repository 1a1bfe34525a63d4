"""A classroom at once: 30 sessions against one `streamlit run app.py` server, each drawing and
uploading images on the Predict page for 60 s, through Streamlit's own websocket protocol.

Each session is a protocol client (bench/st_protocol.py) that sends what a browser sends: the
widget states of a rerun, an upload (URL request, HTTP PUT, uploader state) or the drawing
canvas's state (its PNG data URL, as the component sends it). Twenty real browsers on this
2-core machine measure the browsers more than the server (bench/load_browsers.py does that,
end to end); these clients cost almost nothing, so the latency here is the server's.

Reports errors (goal: zero: exceptions, error boxes, missing answers, timeouts, failed
uploads), p50/p95 latency from the action to the run that shows every model's answer, and the
server's peak memory (VmHWM). SESSIONS / SECONDS change the load; SERVERS=2 (or more) starts
that many servers behind HAProxy (deploy/serve.py) and measures them through the proxy, each
session kept on its server by the proxy's affinity cookie.
"""

import asyncio
import base64
import io
import os
import time
from collections import Counter

import numpy as np
from browser import peak_memory_mib, print_load_results, streamlit_server, streamlit_servers
from PIL import Image
from st_protocol import StreamlitSession

from fmnist_core.data.fashion_mnist import load_dataset

SESSIONS = int(os.environ.get("SESSIONS", 30))  # a class
SECONDS = float(os.environ.get("SECONDS", 60))
SERVERS = int(os.environ.get("SERVERS", 1))  # more than one: behind HAProxy
CLIENT_TIMEOUT = 120.0  # seconds a client waits for one run before counting an error
ds = load_dataset()
# the server's steady state: its one-off background compile of UMAP's code (about 30 s of CPU
# after the first page) is measured by bench_first_umap.py, not charged to these answers
os.environ.setdefault("FMNIST_WARM_UP", "0")


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


def upload_file(k: int) -> bytes:
    """A photo-like upload: dark item on white, 160x160 RGB."""
    img = Image.fromarray(255 - ds.x_test[k % 10000]).resize((160, 160)).convert("RGB")
    return png_bytes(np.asarray(img))


def drawing_state(k: int) -> dict:
    """What the canvas sends after a stroke: fabric.js JSON and the 280x280 RGBA PNG."""
    item = np.kron(ds.x_test[(k * 7) % 10000], np.ones((10, 10), np.uint8))
    rgba = np.dstack([item, item, item, np.full_like(item, 255)])
    url = "data:image/png;base64," + base64.b64encode(png_bytes(rgba)).decode()
    stroke = {"type": "path", "stroke": "#FFFFFF", "strokeWidth": 18, "path": [["M", 90, 60]]}
    return {"drawing": {"raw": {"objects": [stroke], "background": "#000000"}, "data": url}}


# the headline above every model's answers: the robust model's, or the majority's without it
ANSWER_MARKS = ("model says", "models say", "models disagree")


def answered(run, heading: str) -> str | None:
    """None if the run shows the heading and every model's answer; else what is missing."""
    texts = run.texts()
    if heading not in texts:
        return f"no heading {heading!r}"
    if not any(mark in t for t in texts for mark in ANSWER_MARKS):
        return "no answers"
    return None


def widget_id(run, kind: str, label: str | None = None) -> str:
    for element in run.of_kind(kind):
        if label is None or element.label == label:
            return element.id
    raise RuntimeError(f"no {kind} {label or ''} on the page")


async def session(url, sid, latencies, switches, errors, servers=None):
    if SERVERS > 1:
        s = StreamlitSession(url, "predict", timeout=CLIENT_TIMEOUT)
    else:
        s = StreamlitSession(url, "predict", timeout=CLIENT_TIMEOUT)
    try:
        run = await s.open()
        source = widget_id(run, "button_group", "Image source")
        end = time.perf_counter() + SECONDS
        k = sid * 1000
        while time.perf_counter() < end:
            k += 1
            start = time.perf_counter()
            if k % 2:  # upload a fresh file
                s.set_string_array(source, ["Upload"])
                run = await s.rerun()
                switches.append(time.perf_counter() - start)
                name = f"s{sid}-{k}.png"
                start = time.perf_counter()
                await s.upload(widget_id(run, "file_uploader"), name, upload_file(k), "image/png")
                run = await s.rerun()
                problem = answered(run, name)
            else:  # finish a drawing
                s.set_string_array(source, ["Draw"])
                run = await s.rerun()
                switches.append(time.perf_counter() - start)
                start = time.perf_counter()
                s.set_json(widget_id(run, "bidi_component"), drawing_state(k))
                s.press(widget_id(run, "button", "Classify"))  # the drawing is finished
                run = await s.rerun()
                problem = answered(run, "Your drawing")
            latencies.append(time.perf_counter() - start)
            for e in run.errors() + ([problem] if problem else []):
                errors.append(f"session {sid}, action {k}: {e[:150]}")
    except Exception as e:  # a timeout, a refused upload or a dropped socket is an error
        errors.append(f"session {sid}: {type(e).__name__}: {str(e).splitlines()[0][:150]}")
    finally:
        if servers is not None:
            servers[getattr(s, "server", "") or "?"] += 1
        await s.close()


async def main_proxied():
    """SERVERS servers behind HAProxy: the same sessions through the proxy."""
    with streamlit_servers(SERVERS) as d:
        for server_url in d.server_urls:  # each server loads the dataset and models first
            warm = StreamlitSession(server_url, "predict", timeout=300)
            await warm.open()
            await warm.close()
        latencies, switches, errors, servers = [], [], [], Counter()
        start = time.perf_counter()
        await asyncio.gather(
            *(session(d.url, i, latencies, switches, errors, servers) for i in range(SESSIONS))
        )
        took = time.perf_counter() - start
        peaks = [peak_memory_mib(p.pid) for p in d.servers]
    sw = np.array(switches) * 1000
    print(
        f"{SESSIONS} sessions x {SECONDS:.0f} s against {SERVERS} servers behind haproxy "
        f"({took:.0f} s in all),"
    )
    print("each a websocket client speaking Streamlit's protocol (no browsers)")
    print(
        "sessions per server (the affinity cookie): "
        + ", ".join(f"{name} {n}" for name, n in sorted(servers.items()))
    )
    print_load_results(np.array(latencies) * 1000, errors)
    if len(sw):
        print(
            f"switching source (a plain rerun): p50 {np.percentile(sw, 50):.0f} ms, "
            f"p95 {np.percentile(sw, 95):.0f} ms"
        )
    print("servers' peak memory (VmHWM): " + ", ".join(f"{p:.0f} MiB" for p in peaks))


async def main():
    if SERVERS > 1:
        return await main_proxied()
    with streamlit_server() as (url, proc):
        # one session first: the server loads the dataset and the models (as after a restart)
        warm = StreamlitSession(url, "predict", timeout=300)
        await warm.open()
        await warm.close()
        latencies, switches, errors = [], [], []
        start = time.perf_counter()
        await asyncio.gather(
            *(session(url, i, latencies, switches, errors) for i in range(SESSIONS))
        )
        took = time.perf_counter() - start
        peak = peak_memory_mib(proc.pid)
    sw = np.array(switches) * 1000
    print(f"{SESSIONS} sessions x {SECONDS:.0f} s against one server ({took:.0f} s in all),")
    print("each a websocket client speaking Streamlit's protocol (no browsers)")
    print_load_results(np.array(latencies) * 1000, errors)
    if len(sw):
        print(
            f"switching source (a plain rerun): p50 {np.percentile(sw, 50):.0f} ms, "
            f"p95 {np.percentile(sw, 95):.0f} ms"
        )
    print(f"server peak memory (VmHWM): {peak:.0f} MiB")


asyncio.run(main())
