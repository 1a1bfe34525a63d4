"""Show a point's image when the mouse is over it in a plotly chart (plotly hover labels
cannot hold pictures).

The images travel once, as one grayscale PNG sprite that Streamlit serves (and the browser
caches) like any st.image; a small component script reads the sprite and draws the hovered
point's 28x28 image next to the mouse. Points say which image they are through customdata[0].
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from fmnist_core.data.gallery import png_bytes
from fmnist_core.figures.embeddings import HOVER_IMAGES_META

COLUMNS = (
    50  # images per sprite row: 1,400 px, under the width above which Streamlit shrinks images
)

_JS = r"""
export default function (component) {
  const { data } = component;
  const W = window;
  W.__fmnistHover = W.__fmnistHover || { sprites: {}, current: null };
  const state = W.__fmnistHover;
  state.current = data.tag;
  state.columns = data.columns;

  let tip = document.getElementById("fmnist-hover-image");
  if (!tip) {
    tip = document.createElement("canvas");
    tip.id = "fmnist-hover-image";
    tip.width = 28; tip.height = 28;
    Object.assign(tip.style, {
      position: "fixed", width: "96px", height: "96px", imageRendering: "pixelated",
      pointerEvents: "none", display: "none", zIndex: 100000, border: "3px solid white",
      boxShadow: "0 2px 8px rgba(0,0,0,.45)", borderRadius: "4px", background: "black",
    });
    document.body.appendChild(tip);
  }

  function sprite(tag) {
    if (state.sprites[tag]) return state.sprites[tag];
    const img = document.querySelector(`img[alt="${tag}"]`);
    if (!img || !img.complete || !img.naturalWidth) return null;
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(img, 0, 0);
    state.sprites[tag] = ctx;
    return ctx;
  }

  function show(row, x, y) {
    const ctx = sprite(state.current);
    if (!ctx) return;
    const col = row % state.columns, line = Math.floor(row / state.columns);
    const pixels = ctx.getImageData(col * 28, line * 28, 28, 28);
    tip.getContext("2d").putImageData(pixels, 0, 0);
    tip.style.left = Math.min(x + 18, window.innerWidth - 110) + "px";
    tip.style.top = Math.max(y - 110, 4) + "px";
    tip.style.display = "block";
  }

  function attach() {
    document.querySelectorAll(".js-plotly-plot").forEach((gd) => {
      if (!gd.layout || gd.layout.meta !== "__META__" || gd.__fmnistHover) return;
      gd.__fmnistHover = true;
      gd.on("plotly_hover", (ev) => {
        const p = ev.points && ev.points[0];
        if (!p || !p.customdata) return;
        const e = ev.event || {};
        const box = gd.getBoundingClientRect();
        show(p.customdata[0], e.clientX ?? box.right - 130, e.clientY ?? box.top + 120);
      });
      gd.on("plotly_unhover", () => { tip.style.display = "none"; });
    });
  }
  attach();
  const timer = setInterval(attach, 400);
  return () => { clearInterval(timer); tip.style.display = "none"; };
}
"""

_component = st.components.v2.component(
    "fmnist_core.hover_images", html="<span></span>", js=_JS.replace("__META__", HOVER_IMAGES_META)
)


def sprite(images: np.ndarray) -> np.ndarray:
    """(n, 28, 28) uint8 images tiled COLUMNS to a row, no gaps."""
    n = len(images)
    rows = -(-n // COLUMNS)
    out = np.zeros((rows * 28, COLUMNS * 28), dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, COLUMNS)
        out[r * 28 : (r + 1) * 28, c * 28 : (c + 1) * 28] = img
    return out


@st.cache_resource(show_spinner=False, max_entries=8)
def sprite_png(_images: np.ndarray, tag: str) -> bytes:
    """The sprite as PNG bytes, encoded once per set of images (thousands of images take a
    noticeable time to encode, which every rerun of the page would otherwise pay). Keyed on the tag, a hash
    of the images, so the images themselves are not hashed again."""
    return png_bytes(sprite(_images))


def hover_images(images: np.ndarray, key: str) -> None:
    """Make charts whose layout.meta is HOVER_IMAGES_META show images[customdata[0]] on hover."""
    tag = "fmnist-sprite-" + hashlib.sha1(np.ascontiguousarray(images).tobytes()).hexdigest()[:16]
    st.html(f"<style>[data-testid='stImage']:has(img[alt='{tag}']) {{display: none;}}</style>")
    # PNG as made: "auto" re-encoded the sprite as (lossy) JPEG on every rerun
    st.image(sprite_png(images, tag), alt=tag, output_format="PNG")
    _component(data={"tag": tag, "columns": COLUMNS}, key=key, height=0)
