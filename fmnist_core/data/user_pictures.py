"""Test images redrawn the way people make pictures: evaluation sets for drawings and uploads.

Each renderer takes one 28x28 Fashion-MNIST image (a light item on black) and returns the
picture a user would give the app, before preprocessing: an outline drawing uploaded as dark
lines on white, strokes on the Predict page's canvas at its brush sizes, a filled silhouette,
flat-shaded clip art with an outline, a photo on a light background saved as JPEG. They are
built from the TEST split only and never used for training or tuning: they measure how far
the models carry from product photos to what people draw and upload.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image

from fmnist_core.data.gallery import png_bytes

# The canvas of the Predict page: 280x280, white strokes on black, brush 4-40 (default 18).
CANVAS_SIDE = 280
CANVAS_BRUSHES = (4, 8, 12, 18, 24, 32, 40)
ITEM_LEVEL = 40  # a pixel of a test image belongs to the item above this value


def _item_mask(img: np.ndarray, side: int) -> np.ndarray:
    """The item's filled shape, enlarged smoothly to side x side."""
    # scipy's submodules take tenths of a second to import: only when needed
    from scipy import ndimage

    big = Image.fromarray(img).resize((side, side), Image.Resampling.BICUBIC)
    mask = np.asarray(big) > ITEM_LEVEL
    # a margin, so that an item touching the image's edge gets an outline there too
    margin = max(2, side // 20)
    return np.pad(ndimage.binary_fill_holes(mask), margin)


def _ring(mask: np.ndarray, width: float) -> np.ndarray:
    """The band of the mask within `width` pixels of its edge: a stroke along the outline."""
    # scipy's submodules take tenths of a second to import: only when needed
    from scipy import ndimage

    inside = ndimage.distance_transform_edt(mask)
    return mask & (inside <= width)


def _downsample(a: np.ndarray, factor: int) -> np.ndarray:
    """Anti-aliased reduction (drawn large, then shrunk, as a brush's soft edge)."""
    img = Image.fromarray(a.astype(np.uint8))
    return np.asarray(
        img.resize((a.shape[1] // factor, a.shape[0] // factor), Image.Resampling.BOX)
    )


def _place(item: np.ndarray, side: int, background: int, rng: np.random.Generator) -> np.ndarray:
    """The item somewhere on a larger square picture of the background colour."""
    out = np.full((side, side) + item.shape[2:], background, np.uint8)
    top = int(rng.integers(0, side - item.shape[0] + 1))
    left = int(rng.integers(0, side - item.shape[1] + 1))
    out[top : top + item.shape[0], left : left + item.shape[1]] = item
    return out


def outline_drawing(img: np.ndarray, rng: np.random.Generator) -> bytes:
    """The item's edge as dark lines on white (1-3 px at 28x28), uploaded as a PNG."""
    scale = 6
    width = float(rng.uniform(1.0, 3.0)) * scale
    ring = _ring(_item_mask(img, 28 * scale * 2), width * 2)
    small = _downsample(np.where(ring, 0, 255), 2)
    return png_bytes(_place(small, int(small.shape[0] * rng.uniform(1.05, 1.5)), 255, rng))


def canvas_drawing(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """White strokes along the item's outline on the black 280x280 canvas, at a brush size
    the canvas offers, as the canvas hands the drawing back (RGB)."""
    brush = float(rng.choice(CANVAS_BRUSHES))
    side = int(rng.integers(170, 250))
    ring = _ring(_item_mask(img, side * 2), brush * 2)  # a brush of width w, drawn at 2x
    strokes = _downsample(np.where(ring, 255, 0), 2)
    canvas = _place(strokes, CANVAS_SIDE, 0, rng)
    return np.repeat(canvas[..., None], 3, axis=-1)


def silhouette(img: np.ndarray, rng: np.random.Generator) -> bytes:
    """The item's shape in one dark flat colour on white (an icon), as a PNG."""
    side = int(rng.integers(100, 300))
    mask = _item_mask(img, side * 2)
    shade = int(rng.integers(0, 90))
    small = _downsample(np.where(mask, shade, 255), 2)
    return png_bytes(_place(small, int(small.shape[0] * rng.uniform(1.05, 1.4)), 255, rng))


def flat_shaded(img: np.ndarray, rng: np.random.Generator) -> bytes:
    """Clip art: the item posterised to two or three flat colours, with a dark outline half
    the time, on white, as an RGB PNG."""
    side = int(rng.integers(100, 300))
    mask = _item_mask(img, side)
    big = np.asarray(Image.fromarray(img).resize((side, side), Image.Resampling.BICUBIC))
    big = np.pad(big, (mask.shape[0] - side) // 2)
    levels = int(rng.integers(2, 4))
    band = np.minimum((big.astype(np.float64) / 256 * levels).astype(int), levels - 1)
    hue = rng.uniform(0, 1, 3)
    # brighter bands of the (negated) dataset image are darker colours on the white page
    palette = np.array(
        [
            np.clip(255 * (1 - (k + 1) / (levels + 1)) * (0.4 + 0.6 * hue), 0, 255)
            for k in range(levels)
        ]  # fmt: skip
    )
    rgb = np.where(mask[..., None], palette[band], 255).astype(np.uint8)
    if rng.uniform() < 0.5:
        edge = _ring(mask, float(rng.uniform(1.5, 4.0)))
        rgb[edge] = 20
    return png_bytes(_place(rgb, int(rgb.shape[0] * rng.uniform(1.05, 1.4)), 255, rng))


def user_photo(img: np.ndarray, rng: np.random.Generator, quality: int | None = 85) -> bytes:
    """A dark item on white, enlarged 4-8x (bicubic), off-centre on a larger canvas, as an
    RGB JPEG (quality 85 by default; None: a lossless PNG): a product photo as people have it."""
    scale = int(rng.integers(4, 9))
    big = Image.fromarray(255 - img).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    w, h = big.width + int(rng.integers(20, 200)), big.height + int(rng.integers(20, 200))
    canvas = Image.new("L", (w, h), 255)
    canvas.paste(
        big, (int(rng.integers(0, w - big.width + 1)), int(rng.integers(0, h - big.height + 1)))
    )
    buf = io.BytesIO()
    if quality is None:
        canvas.convert("RGB").save(buf, "PNG")
    else:
        canvas.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _perspective_coefficients(src: list, dst: list) -> list[float]:
    """PIL's 8 perspective numbers mapping each output corner `dst[i]` to input `src[i]`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    return np.linalg.solve(np.array(rows, float), np.array(rhs, float)).tolist()


def _three_quarter_view(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture turned a little out of its plane: one side shorter (perspective) and a
    shear, as clip art drawn at a three-quarter view."""
    w, h = picture.size
    near = float(rng.uniform(0.08, 0.28)) * h  # how much shorter the far side is
    shear = float(rng.uniform(-0.15, 0.15)) * w
    far_left = rng.uniform() < 0.5
    top_l, bot_l = (near / 2, h - near / 2) if far_left else (0.0, h)
    top_r, bot_r = (0.0, h) if far_left else (near / 2, h - near / 2)
    dst = [(shear, top_l), (w + shear, top_r), (w - shear, bot_r), (-shear, bot_l)]
    pad = int(abs(shear)) + 2
    dst = [(x + pad, y) for x, y in dst]
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    return picture.transform((w + 2 * pad, h), Image.Transform.PERSPECTIVE,
                             _perspective_coefficients(src, dst), Image.Resampling.BICUBIC)  # fmt: skip


def clip_art(img: np.ndarray, rng: np.random.Generator) -> bytes:
    """Cartoon clip art as people find and upload it: the item in 2-4 flat fills of one
    colour (light or dark), a dark outline around it and, often, between its fills; half of
    them seen at a three-quarter view; a transparent PNG or a JPEG on white."""
    # scipy's submodules take tenths of a second to import: only when needed
    from scipy import ndimage

    side = int(rng.integers(120, 320))
    mask = _item_mask(img, side)
    margin = (mask.shape[0] - side) // 2
    big = np.pad(np.asarray(Image.fromarray(img).resize((side, side), Image.Resampling.BICUBIC)),
                 margin).astype(np.float64)  # fmt: skip
    levels = int(rng.integers(2, 5))
    band = np.minimum((big / 256 * levels).astype(int), levels - 1)
    hue = rng.uniform(0.2, 1.0, 3)
    light = rng.uniform() < 0.5  # pastel fills, or deep ones
    shades = np.linspace(0.55, 0.95, levels) if light else np.linspace(0.15, 0.6, levels)
    palette = np.clip(255 * shades[:, None] * hue[None, :] / hue.max(), 0, 255)
    rgb = palette[band]
    outline = _ring(mask, float(rng.uniform(0.012, 0.03)) * side)
    lines = outline
    if rng.uniform() < 0.7:  # the cartoon's inner lines, between its flat fills
        steps = (ndimage.maximum_filter(band, 3) != ndimage.minimum_filter(band, 3)) & mask
        lines = lines | ndimage.binary_dilation(steps, iterations=int(side > 200))
    rgb[lines] = rng.uniform(0, 45)
    alpha = np.where(mask | outline, 255, 0).astype(np.uint8)
    picture = Image.fromarray(np.dstack([rgb.astype(np.uint8), alpha]), "RGBA")
    if rng.uniform() < 0.5:
        picture = _three_quarter_view(picture, rng)
    bg = int(picture.width * rng.uniform(1.05, 1.4))
    canvas = Image.new("RGBA", (bg, bg), (255, 255, 255, 0))
    canvas.alpha_composite(picture, (int(rng.integers(0, bg - picture.width + 1)),
                                     int(rng.integers(0, max(1, bg - picture.height + 1)))))  # fmt: skip
    buf = io.BytesIO()
    if rng.uniform() < 0.5:
        canvas.save(buf, "PNG")  # transparent around the item
    else:
        white = Image.new("RGB", canvas.size, (255, 255, 255))
        white.paste(canvas, mask=canvas.getchannel("A"))
        white.save(buf, "JPEG", quality=int(rng.integers(70, 96)))
    return buf.getvalue()


# name -> (renderer, what it mimics)
PICTURE_SETS: dict[str, tuple[Callable, str]] = {
    "outline": (outline_drawing, "outline drawings: the item's edge, 1-3 px dark lines on white"),
    "canvas": (canvas_drawing, "canvas strokes along the outline at brush sizes 4-40"),
    "silhouette": (silhouette, "filled silhouettes: one flat dark colour on white"),
    "flat": (flat_shaded, "flat-shaded clip art: 2-3 flat colours, often a dark outline"),
    "photo": (user_photo, "user-like photos: enlarged, off-centre JPEG on white"),
    "clipart": (
        clip_art,
        "cartoon clip art: 2-4 flat fills, dark outlines, some at a "
        "three-quarter view, transparent PNG or JPEG",
    ),
}


def render_set(kind: str, images: np.ndarray, seed: int = 0) -> list:
    """Every image rendered as a `kind` picture (PNG/JPEG bytes or an RGB canvas array)."""
    renderer = PICTURE_SETS[kind][0]
    rng = np.random.default_rng(seed)
    return [renderer(img, rng) for img in images]
