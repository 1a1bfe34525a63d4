"""The Inside-the-CNN page's views: the strip of layers, where a model looked (with each map's
measured faithfulness), feature maps, the first layer's filters and its arithmetic."""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit.typing import PlotlyState

from fmnist_core.contracts import AttributionMethod
from fmnist_core.data.gallery import image_digest
from fmnist_core.explain.attribution import (
    FAITHFUL_METHOD,
    METHODS,
    faithfulness,
    faithfulness_images,
)
from fmnist_core.explain.explanation import Explanation, explain
from fmnist_core.explain.heatmaps import evidence_picture, feature_map_picture, gradcam_picture
from fmnist_core.explain.inspector import (
    InsideError,
    Inspector,
    apply_activation,
    strongest_channels,
)
from fmnist_core.figures.inside import layer_strip, picture_grid, value_grid
from fmnist_core.ui.loaders import dataset_or_stop
from fmnist_core.versions import Artifact

MAX_CHANNELS = 64  # a grid shows the strongest 64 maps of a layer


@st.cache_resource(show_spinner=False, max_entries=24)
def _inspector(ref: str, path: str, created: str | None, _art: Artifact) -> Inspector:
    return Inspector(_art.load_model(), _art.name)


def inspector_or_none(art: Artifact) -> Inspector | None:
    """The model opened up (once per server and version); a warning and None if it cannot be."""
    try:
        with st.spinner(f"Opening up {art.name}..."):
            return _inspector(art.ref, str(art.path), art.manifest.get("created_utc"), art)
    except Exception as e:  # a damaged file or a model that is not a chain: say so, go on
        st.warning(f"**{art.name}** cannot be shown inside: {e}")
        return None


@st.cache_resource(show_spinner=False, max_entries=48)
def _faithfulness(ref: str, path: str, created, method: AttributionMethod, layer, _ins, _x, _y):
    return faithfulness(_ins, _x[faithfulness_images(_y)], method, layer=layer)


def measured_faithfulness(art: Artifact, ins: Inspector, layer: str | None = None) -> dict:
    """The faithful map's and Grad-CAM's (on `layer`) faithfulness on 200 test images,
    measured once per server, version and layer."""
    ds = dataset_or_stop()
    created = art.manifest.get("created_utc")
    with st.spinner(f"Measuring how faithful {art.name}'s maps are on 200 test images..."):
        return {
            m: _faithfulness(art.ref, str(art.path), created, m, layer if m == "gradcam" else None,
                             ins, ds.x_test, ds.y_test)
            for m in (FAITHFUL_METHOD, "gradcam")
        }  # fmt: skip


@st.cache_resource(show_spinner=False, max_entries=64)
def _explained(ref: str, created: str | None, digest: str, layer: str | None,
               _ins: Inspector, _image: np.ndarray) -> Explanation:  # fmt: skip
    return explain(_ins, _image, top=3, gradcam_layer=layer)


def explanation(art: Artifact, ins: Inspector, image: np.ndarray, layer: str | None = None):
    return _explained(
        art.ref, art.manifest.get("created_utc"), image_digest(image), layer, ins, image
    )


def show_layer_strip(ins: Inspector) -> None:
    st.plotly_chart(layer_strip(ins.info), width="stretch", config={"displayModeBar": False})
    total = sum(i.params for i in ins.info)
    st.caption(
        f"**{ins.name}**: {len(ins.info)} layers, {total:,} learned numbers (parameters). The "
        "image enters on the left; each bar is one layer, as tall as the number of values it "
        "passes on. Convolutions look for small patterns; pooling keeps the strongest value of "
        "each small square, so the picture shrinks while the number of pattern detectors grows; "
        "the last layers turn everything into ten class scores."
    )


def show_where_it_looked(art: Artifact, ins: Inspector, image: np.ndarray, layer=None) -> None:
    """The faithful map and Grad-CAM for the top-3 classes, with the measured faithfulness."""
    ex = explanation(art, ins, image, layer)
    pictures, captions = [], []
    for view in ex.views:
        pictures += [evidence_picture(ex.image, view.attribution),
                     gradcam_picture(ex.image, view.gradcam)]  # fmt: skip
        name = f"{view.class_name} {view.probability:.1%}"
        captions += [f"{name}: where it looked", f"{name}: Grad-CAM"]
    st.image(pictures, caption=captions, width=112, output_format="PNG")
    rates = measured_faithfulness(art, ins, ex.gradcam_layer)
    faithful, cam = rates[FAITHFUL_METHOD], rates["gradcam"]
    st.caption(
        f"**Where it looked** ({METHODS[FAITHFUL_METHOD]}): red pixels push the model towards "
        "the class, blue ones away from it. **Grad-CAM** ("
        f"on `{ex.gradcam_layer}`) shows the coarse area its last feature maps stress."
    )
    st.caption(
        f"**Can you trust them?** Tested on 200 test images: blanking the 20% of the item's "
        f"pixels that a map ranks highest hurt the answer more than blanking a random 20% for "
        f"**{faithful.rate:.0%}** of images with {METHODS[FAITHFUL_METHOD]}, but only "
        f"**{cam.rate:.0%}** with Grad-CAM. A map can look convincing and still not show what "
        "the model used."
    )


def _channel_pictures(maps: np.ndarray, order: np.ndarray) -> list[np.ndarray]:
    top = float(maps.max()) or 1.0  # one scale for the whole layer: weak maps look weak
    return [feature_map_picture(maps[..., c], top) for c in order]


def show_feature_maps(ins: Inspector, image: np.ndarray, key: str) -> tuple[str, int] | None:
    """One layer's feature maps as a grid, strongest first; a click enlarges one. Returns the
    layer and channel enlarged."""
    layers = ins.map_layers
    if not layers:
        st.info(f"{ins.name} has no convolution or pooling layer.")
        return None
    names = [i.name for i in layers]
    choice = st.selectbox(
        "Layer",
        names,
        key=f"{key}_layer",
        format_func=lambda n: (
            f"{n} ({ins.layer(n).type}, {'x'.join(map(str, ins.layer(n).output_shape))})"
        ),
    )
    maps = ins.activations(image)[choice]
    order = strongest_channels(maps)[:MAX_CHANNELS]
    channel_key = f"{key}_channel_{choice}"
    selected = int(st.session_state.get(channel_key, order[0]))
    cols = 8 if len(order) >= 8 else len(order)
    labels = [f"map {c}: mean {maps[..., c].mean():.2f}" for c in order]
    where = list(order).index(selected) if selected in order else None
    event = st.plotly_chart(
        picture_grid(_channel_pictures(maps, order), labels, cols, where, cell_px=64),
        on_select="rerun", selection_mode="points", key=f"{key}_grid_{choice}",
        config={"displayModeBar": False},
    )  # fmt: skip
    points = event.selection.points if event else []
    if points:
        clicked = int(order[int(points[0]["customdata"][0])])
        if clicked != selected:
            st.session_state[channel_key] = clicked
            st.rerun()
    shown = len(order)
    st.caption(
        f"The {shown} strongest of {maps.shape[-1]} maps of `{choice}`, brightest = strongest "
        "response. Each map is one pattern detector slid over the whole picture: it lights up "
        "where its pattern is. Click a map to enlarge it."
    )
    return choice, selected


def show_enlarged(ins: Inspector, image: np.ndarray, layer: str, channel: int, key: str):
    """One map large; on the first convolution a click picks a value, returned as (row, col)
    for show_arithmetic (the middle one until a click)."""
    maps = ins.activations(image)[layer]
    first = layer == ins.first_conv().name
    pixel_key = f"{key}_pixel"
    h, w = maps.shape[:2]
    pixel = st.session_state.get(pixel_key) if first else None
    if first and (pixel is None or not (pixel[0] < h and pixel[1] < w)):
        pixel = (h // 2, w // 2)  # the middle value until a click
    cell = max(6, min(16, 420 // max(h, w)))
    values = maps[..., channel]
    event = st.plotly_chart(
        value_grid(values, pixel, cell_px=cell, diverging=bool(values.min() < 0),
                   title=f"{layer}, map {channel}" + (": click a value" if first else "")),
        on_select="rerun" if first else "ignore", selection_mode="points",
        key=f"{key}_big_{layer}_{channel}", config={"displayModeBar": False},
    )  # fmt: skip
    # (a PlotlyState when first: the chart is selectable)
    if first and isinstance(event, PlotlyState) and event and event.selection.points:
        p = event.selection.points[0]
        clicked = (int(p["y"]), int(p["x"]))
        if clicked != pixel:
            st.session_state[pixel_key] = clicked
            st.rerun()
    if first:
        st.caption(
            "Click any value of this first-layer map to see how it is computed, below."
            + (" Red: positive, blue: negative (the thumbnails show negatives as black)."
               if values.min() < 0 else "")
        )  # fmt: skip
        return pixel
    st.caption(
        "Deeper maps are smaller: pooling halved the picture, and each value now sums up a "
        "larger part of the image."
    )
    return None


def show_arithmetic(ins: Inspector, image: np.ndarray, channel: int, pixel) -> None:
    try:
        a = ins.arithmetic(image, channel, int(pixel[0]), int(pixel[1]))
    except InsideError as e:
        st.info(str(e))
        return
    k = a.kernel.shape[0]
    st.markdown(
        f"**How the value at row {a.row}, column {a.col} of map {a.channel} is made**: the "
        f"{k}x{k} kernel (the filter this map learned) is laid over the {k}x{k} patch of the "
        "input under it; each pair of numbers is multiplied and everything is added up, with "
        "the bias."
    )
    c1, c2, c3, c4 = st.columns([1, 1, 1, 2])
    # several input channels (VGG19's three colours): show the first, sum them all below
    patch, kernel = a.patch[..., 0], a.kernel[..., 0]
    cfg = {"displayModeBar": False}
    limits = (min(0.0, float(patch.min())), max(1.0, float(patch.max())))  # black 0, white 1
    c1.plotly_chart(
        value_grid(patch, numbers=True, cell_px=46, title="input patch", limits=limits),
        config=cfg,
        key="arith_patch",
    )
    c2.plotly_chart(value_grid(kernel, numbers=True, diverging=True, cell_px=46, title="kernel"),
                    config=cfg, key="arith_kernel")  # fmt: skip
    c3.plotly_chart(
        value_grid(patch * kernel, numbers=True, diverging=True, cell_px=46, title="products"),
        config=cfg,
        key="arith_products",
    )
    channels = a.patch.shape[-1]
    over = f" (over all {channels} input channels)" if channels > 1 else ""
    after = apply_activation(a.activation, a.weighted_sum)
    line = (
        f"sum of products{over} {float(a.products.sum()):+.4f} + bias {a.bias:+.4f} "
        f"= {a.weighted_sum:+.4f}"
    )
    if a.activation != "linear":
        line += f"; {a.activation.upper()} gives {after:.4f}"
    c4.code(f"{line}\nthe layer's output holds {a.value:.4f}", language=None, wrap_lines=True)
    if a.activation == "relu":
        c4.caption("ReLU keeps a positive sum and turns a negative one into 0: no response.")
    elif a.activation == "linear":
        c4.caption(
            "This layer adds no activation itself: the batch normalisation and ReLU that "
            "follow it rescale the value and drop negative ones."
        )


def show_filters(ins: Inspector) -> None:
    kernel, _ = ins.filters()
    k_h, k_w, channels, count = kernel.shape
    weights = kernel.mean(axis=2) if channels > 1 else kernel[..., 0, :]
    limit = float(np.abs(weights).max()) or 1.0
    pictures = []
    for c in range(min(count, MAX_CHANNELS)):
        w = weights[..., c] / limit  # -1..1: red positive, blue negative
        rgb = np.stack(
            [np.where(w > 0, 255, 255 + 200 * w), 255 - 200 * np.abs(w),
             np.where(w < 0, 255, 255 - 200 * w)], axis=-1,
        )  # fmt: skip
        pictures.append(rgb.clip(0, 255).astype(np.uint8))
    # PNG: JPEG's colour subsampling smears 3x3 pictures into purple
    st.image(
        pictures, width=40, caption=[str(c) for c in range(len(pictures))], output_format="PNG"
    )
    st.caption(
        f"The {count} kernels of `{ins.first_conv().name}`, each {k_h}x{k_w} (red: positive "
        "weights, blue: negative). Each is a tiny pattern, such as a light-to-dark edge; the "
        "first layer's maps show where the image contains it."
        + (" Averaged over the three colour channels." if channels > 1 else "")
    )
