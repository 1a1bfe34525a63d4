"""Any user image to the 28x28 input the models expect, made the way Fashion-MNIST's were made.

Zalando built each Fashion-MNIST image from a product photo on a light background: trim to the
item, resize the longest edge to 28 pixels, centre on a 28x28 canvas, negate (a light item on
black). We do the same, and return every intermediate step so the app can show the path.

One step is ours: a drawing made of strokes (the canvas, a line-art upload) has its closed
outlines filled into a silhouette, because the models learned from solid items, and a closed
outline looks to them like a bag.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from fmnist_core.errors import FmnistError

SIZE = 28
# Pillow refuses images above this many pixels (its decompression-bomb guard raises at 2x).
MAX_PIXELS = 40_000_000
# Larger images are reduced right after decoding: the result is 28x28 anyway, and a bounded
# working size bounds memory and time per request.
WORKING_SIDE = 1024
# A pixel belongs to the item when it is brighter than the background by more than the
# background's noise, and never needs to be more than this (0-255).
ITEM_THRESHOLD = 40
# ...and, in a picture reduced at least 2x, where it reaches ITEM_EDGE_SHARE of the item's
# typical contrast (the 90th percentile of the pixels above the noise), past the faint rim of
# an enlarged or soft-focus picture (half a pixel of the original at any enlargement), which
# widens the item by a pixel at 28x28. Off (0): `python tools/choose_item_edge.py` found that
# at 0.2, the worst tutorial model's loss on enlarged JPEG photos falls from 5.4 to 2.2 points,
# but robust loses 1.5 points and the other models about 1 on clip art, whose JPEG ringing is
# left out too (bench_drawings), and the headline answers clip art, not photos. A picture near
# 28 px always keeps every faint pixel: a dataset image's faint edge pixels are part of the item.
ITEM_EDGE_SHARE = 0.0
RESAMPLE = Image.Resampling.BOX
SHARPEN = 50  # UnsharpMask percent; measured best for robustness (bench_robustness)
# A drawing of outlines: the regions its strokes enclose make up at least this share of the
# filled item, its strokes are of one brightness (ink), not a photo's shading, and thin: no
# part of the item is thicker than this share of its size (a bag's body is; its handle is not).
OUTLINE_HOLE_SHARE = 0.20
INK_SHARE = 0.75
STROKE_HALF_WIDTH = 0.12
# Light clip art with a dark outline: strokes above this share of the brightest strokes, a
# thin outline (half-width) around an inside of at least this share of the item.
PALE_INK_LEVEL, PALE_HOLE_SHARE, PALE_HALF_WIDTH = 0.3, 0.5, 0.05
FILL_SIDE = 100

Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class PreprocessError(FmnistError):
    """The input is not an image we can read, or holds nothing to classify."""


@dataclass
class Step:
    name: str
    # uint8, (H, W) or (H, W, 3); a page keeps the thumbnail it showed as a PNG data URL (str)
    image: np.ndarray | str
    note: str = ""


@dataclass
class Preprocessed:
    """The model input (28x28 uint8, light item on black) and how we got there."""

    image: np.ndarray
    steps: list[Step] = field(default_factory=list)
    inverted: bool = False
    dataset_like: bool = False  # the input already looked like a Fashion-MNIST image
    filled: bool = False  # closed outlines were filled into a silhouette
    # when filled: the model input made the same way without the fill step (models trained on
    # outlines too read both; see predict.Predictor)
    as_drawn: np.ndarray | None = None

    def model_input(self) -> np.ndarray:
        return self.image.reshape(1, SIZE, SIZE, 1).astype(np.float32)


# --------------------------------------------------------------------------- decoding


def decode_image(source: bytes | str | os.PathLike | Image.Image | np.ndarray) -> Image.Image:
    """Bytes, a path, a PIL image or an array to a PIL image (first frame, EXIF orientation applied)."""
    if isinstance(source, np.ndarray):
        return _image_from_array(source)
    if isinstance(source, Image.Image):
        img = source
    else:
        if isinstance(source, (str, os.PathLike)):
            try:
                data = Path(source).read_bytes()
            except OSError as e:
                raise PreprocessError(f"Cannot read {source}: {e.strerror or e}") from e
        else:
            data = bytes(source)
        if not data:
            raise PreprocessError("The file is empty.")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(io.BytesIO(data))
                img.draft("RGB", (WORKING_SIDE, WORKING_SIDE))  # JPEG: decode at reduced size
                img.seek(0)  # first frame of an animation
                img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise PreprocessError(
                f"The image is too large to process ({e}). Use a picture under "
                f"{MAX_PIXELS // 1_000_000} megapixels."
            ) from e
        except UnidentifiedImageError as e:
            kind = (
                "an SVG drawing" if b"<svg" in data[:2048].lower() else "not an image we can read"
            )
            raise PreprocessError(
                f"This is {kind} (supported: PNG, JPEG, WebP, BMP, TIFF, GIF). "
                "Save it as PNG or JPEG and try again."
            ) from e
        except (OSError, ValueError, SyntaxError, EOFError) as e:
            raise PreprocessError(f"The image file is damaged or truncated ({e}).") from e
        except Exception as e:  # Pillow's decoders raise many types on hostile input
            raise PreprocessError(f"The image file is damaged ({type(e).__name__}).") from e
    with contextlib.suppress(Exception):  # a broken EXIF block must not lose the picture
        img = ImageOps.exif_transpose(img) or img
    if max(img.size) > WORKING_SIDE:
        img = img.copy()
        img.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.LANCZOS)
    return img


def _image_from_array(a: np.ndarray) -> Image.Image:
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)) or a.size == 0:
        raise PreprocessError(
            f"An image array must be (H, W), (H, W, 3) or (H, W, 4), got {a.shape}"
        )
    if a.dtype != np.uint8:
        a = np.asarray(a, dtype=np.float64)
        if not np.isfinite(a).all():
            raise PreprocessError("The image array has NaN or infinite values")
        if a.max(initial=0) <= 1.0:  # floats in 0-1
            a = a * 255.0
        a = np.clip(np.round(a), 0, 255).astype(np.uint8)
    if a.shape[0] * a.shape[1] > MAX_PIXELS:
        raise PreprocessError("The image is too large to process.")
    return Image.fromarray(a)


# --------------------------------------------------------------------------- the steps


def _to_gray(img: Image.Image) -> tuple[np.ndarray, str]:
    """Grayscale, with transparency composited onto a background that contrasts with the item."""
    note = ""
    # A colour-key transparency (palette or RGB "transparency") marks the picture's own
    # background colour: the key colour itself is the right background to composite onto.
    keyed = img.mode in ("P", "L", "RGB") and "transparency" in img.info
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA")
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)
        return a.astype(np.uint8), "high bit depth scaled to 8 bits"
    if img.mode in ("RGBA", "LA") or "transparency" in img.info:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float64)
        alpha = rgba[..., 3:] / 255.0
        gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
        opaque = alpha[..., 0] > 0.5
        if keyed and opaque.any() and not opaque.all():
            background = float(np.median(rgba[..., :3][~opaque] @ np.array([0.299, 0.587, 0.114])))
            note = "transparent colour kept as the background"
        elif opaque.any() and not opaque.all():
            # A dark item goes on white (then gets inverted), a light item on black. Judge by
            # the item's outline (opaque pixels touching transparent ones): that is what must
            # stand out from the background, whatever the inside of the item looks like.
            clear = ~opaque
            near_clear = clear.copy()
            near_clear[1:] |= clear[:-1]
            near_clear[:-1] |= clear[1:]
            near_clear[:, 1:] |= clear[:, :-1]
            near_clear[:, :-1] |= clear[:, 1:]
            outline = opaque & near_clear
            background = 255.0 if gray[outline].mean() < 128 else 0.0
            note = f"transparency on {'white' if background else 'black'}"
        else:
            background = 255.0
        out = gray * alpha[..., 0] + background * (1 - alpha[..., 0])
        return np.clip(np.round(out), 0, 255).astype(np.uint8), note
    if img.mode == "CMYK":
        img = img.convert("RGB")
    return np.asarray(img.convert("L"), dtype=np.uint8), note


def _display_rgb(img: Image.Image) -> np.ndarray:
    """The picture as 8-bit RGB for showing it (16-bit and float images scaled first)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return np.stack([_to_gray(img)[0]] * 3, axis=-1)
    return np.asarray(img.convert("RGB"))


def _border(gray: np.ndarray) -> np.ndarray:
    w = max(1, min(gray.shape) // 20)
    return np.concatenate(
        [gray[:w].ravel(), gray[-w:].ravel(), gray[:, :w].ravel(), gray[:, -w:].ravel()]
    )


def has_light_background(gray: np.ndarray) -> bool:
    """The border of the picture is mostly light: a dark item on a light background."""
    return float(np.median(_border(gray))) > 127


def item_box(gray: np.ndarray, threshold: float | None = None) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right), exclusive ends, of the pixels that differ from the background
    (by more than `threshold`; by default, more than its noise and, for an item to be reduced
    at least 2x, more than ITEM_EDGE_SHARE of the item's contrast)."""
    border = _border(gray)
    background = float(np.median(border))
    above = np.abs(gray.astype(np.int16) - background)
    if threshold is None:
        # above the background's own noise (JPEG, scanner grain; the median absolute
        # deviation is robust when the item itself reaches the border)...
        mad = float(np.median(np.abs(border - background)))
        threshold = float(np.clip(3 * 1.4826 * mad + 2, 2, ITEM_THRESHOLD))
        box = _box(above > threshold) if ITEM_EDGE_SHARE else None
        if box is not None and max(box[1] - box[0], box[3] - box[2]) >= 2 * SIZE:
            # ...and at ITEM_EDGE_SHARE of the item's contrast, past a soft rim
            contrast = float(np.percentile(above[above > threshold], 90))
            threshold = max(threshold, ITEM_EDGE_SHARE * contrast)
    return _box(above > threshold)


def _box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _pad_square(a: np.ndarray, fill: int = 0) -> np.ndarray:
    h, w = a.shape
    side = max(h, w)
    out = np.full((side, side), fill, dtype=a.dtype)
    # an odd margin puts the extra pixel above / left of the item, as Fashion-MNIST's images do
    top, left = (side - h + 1) // 2, (side - w + 1) // 2
    out[top : top + h, left : left + w] = a
    return out


def _looks_like_dataset(gray: np.ndarray) -> bool:
    """Already in Fashion-MNIST's format: 28x28 with a dark background. Used as it is, since
    cropping and resizing again would only blur an image made this way."""
    return gray.shape == (SIZE, SIZE) and not has_light_background(gray)


@dataclass
class OutlineFill:
    """What filling the closed outlines of a light-on-dark picture would do."""

    image: np.ndarray  # the picture with the enclosed regions at the strokes' brightness
    hole_share: float  # share of the filled item that the strokes enclosed
    ink_share: float  # share of the strokes' pixels close to their typical brightness
    half_width: float  # the strokes' half-width (99th percentile) over the item's size

    @property
    def is_outline_drawing(self) -> bool:
        return bool(  # a plain bool: the shares are numpy floats, and answers go out as JSON
            self.hole_share >= OUTLINE_HOLE_SHARE
            and self.ink_share >= INK_SHARE
            and self.half_width <= STROKE_HALF_WIDTH
        )


def outline_fill(gray: np.ndarray, need_image: bool = True) -> OutlineFill:
    """How to fill a light-on-dark picture's outlines: strokes against the background, or,
    for light clip art with a dark outline (yellow, pastel, cream: once inverted, bright
    strokes around a dim inside), strokes against that dim inside. The second reading asks
    for more (a thin outline around a large inside), since the dim parts of a photo look alike.
    `need_image=False`: only the verdict is wanted, so a picture whose strokes are not of one
    brightness (a photo) is rejected before any shape work.
    """
    plain = fill_outlines(gray, quick_reject=not need_image)
    if plain.is_outline_drawing:
        return plain
    pale = fill_outlines(gray, ink_level=PALE_INK_LEVEL, quick_reject=not need_image)
    if (
        pale.is_outline_drawing
        and pale.hole_share >= PALE_HOLE_SHARE
        and pale.half_width <= PALE_HALF_WIDTH
    ):
        return pale
    return plain


def fill_outlines(
    gray: np.ndarray, ink_level: float = 0.0, quick_reject: bool = False
) -> OutlineFill:
    """Fill the regions that the item's strokes enclose (light item on a dark background).

    Strokes are pixels brighter than the background by ITEM_THRESHOLD and by `ink_level`
    times the brightest strokes. Small gaps in a hand-drawn outline (about 2% of the item's
    size) are bridged first, so a shape that is almost closed still fills; the strokes
    themselves keep their brightness.
    """
    # scipy's submodules take tenths of a second to import: only when needed
    from scipy import ndimage

    background = float(np.median(_border(gray)))
    above = gray.astype(np.int16) - background
    threshold = float(ITEM_THRESHOLD)
    if ink_level and (above > threshold).any():
        threshold = max(threshold, ink_level * float(np.percentile(above[above > threshold], 95)))
    mask = above > threshold
    if not mask.any():
        return OutlineFill(gray.copy(), 0.0, 0.0, 0.0)
    ink = gray[mask].astype(np.float64)
    typical = float(np.percentile(ink, 75))
    ink_share = float(np.mean(np.abs(ink - typical) <= 48))
    if quick_reject and ink_share < INK_SHARE:  # not strokes of one brightness: no drawing
        return OutlineFill(gray, 0.0, ink_share, 0.0)
    # The shape work runs on the stroke mask reduced by blocks to about FILL_SIDE pixels a
    # side (a block holding any stroke pixel is stroke: thin lines survive): many times faster
    # than at full size, and it runs on every upload and drawing.
    factor = max(1, -(-max(mask.shape) // FILL_SIDE))
    small = _any_in_blocks(mask, factor)
    rows, cols = np.flatnonzero(small.any(axis=1)), np.flatnonzero(small.any(axis=0))
    size = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    radius = max(1, round(0.02 * size))
    disc = ndimage.iterate_structure(ndimage.generate_binary_structure(2, 1), radius)
    # pad so that closing does not glue the item to the picture's edge
    pad = radius + 1
    closed = ndimage.binary_closing(np.pad(small, pad), structure=disc)[pad:-pad, pad:-pad]
    filled = ndimage.binary_fill_holes(closed | small)
    hole_share = float((filled & ~small).sum() / filled.sum())
    half_width = 0.0
    if hole_share >= OUTLINE_HOLE_SHARE:  # only then does thickness decide anything
        depth = ndimage.distance_transform_edt(np.pad(small, 1))[1:-1, 1:-1][small]
        half_width = float(np.percentile(depth, 99)) / size
    holes = np.repeat(np.repeat(filled, factor, 0), factor, 1)[: mask.shape[0], : mask.shape[1]]
    out = gray.copy()
    out[holes & ~mask] = np.uint8(round(float(np.median(ink))))
    return OutlineFill(out, hole_share, ink_share, half_width)


def _any_in_blocks(mask: np.ndarray, factor: int) -> np.ndarray:
    """The mask reduced by `factor`: a block is set when any of its pixels is."""
    if factor == 1:
        return mask
    h, w = mask.shape
    padded = np.zeros((-(-h // factor) * factor, -(-w // factor) * factor), bool)
    padded[:h, :w] = mask
    blocks = padded.reshape(padded.shape[0] // factor, factor, -1, factor)
    return np.asarray(blocks.any(axis=(1, 3)))


def preprocess(
    source: bytes | str | os.PathLike | Image.Image | np.ndarray,
    invert: bool | None = None,
    fill: bool | None = None,
) -> Preprocessed:
    """Decode, grayscale, invert if the background is light (or as `invert` says), fill the
    closed outlines of a drawing (or as `fill` says), crop to the item, pad to square, resize
    so the item's longest side fills 28 pixels, centre.
    """
    img = decode_image(source)
    try:
        # Decoding is lazy in places: damaged pixel data can surface only at conversion, as
        # any of a dozen exception types. To the user it is one thing: a damaged image.
        steps = [Step("original", _display_rgb(img), f"{img.width}x{img.height}")]
        gray, note = _to_gray(img)
    except PreprocessError:
        raise
    except Exception as e:
        raise PreprocessError(
            f"The image file is damaged or uses an unsupported format ({e})."
        ) from e
    steps.append(Step("grayscale", gray, note))

    light = has_light_background(gray)
    do_invert = light if invert is None else invert
    if do_invert:
        gray = 255 - gray
    how = "auto" if invert is None else "manual"
    steps.append(
        Step(
            "inverted" if do_invert else "not inverted",
            gray,
            f"{how}: {'light' if light else 'dark'} background",
        )  # fmt: skip
    )

    dataset_like = _looks_like_dataset(gray)
    unfilled = gray
    filled = False
    if fill is not False and not (dataset_like and fill is None):
        outlines = outline_fill(gray, need_image=bool(fill))
        filled = bool(fill) or outlines.is_outline_drawing
        if filled:
            why = "manual" if fill else f"auto: a drawing, {outlines.hole_share:.0%} of it enclosed"
            gray = outlines.image
            steps.append(Step("outlines filled", gray, why))
    if dataset_like:
        steps.append(Step("final 28x28", gray, "already in Fashion-MNIST's format"))
        as_drawn = unfilled.copy() if filled else None
        return Preprocessed(
            gray.copy(), steps, do_invert, dataset_like=True, filled=filled, as_drawn=as_drawn
        )
    final, tail = _to_model_input(gray)
    steps.extend(tail)
    as_drawn = _to_model_input(unfilled)[0] if filled else None
    return Preprocessed(final, steps, inverted=do_invert, filled=filled, as_drawn=as_drawn)


def _to_model_input(gray: np.ndarray) -> tuple[np.ndarray, list[Step]]:
    """Crop to the item, resize its longest side to 28 pixels, centre on a 28x28 square."""
    steps = []
    box = item_box(gray)
    if box is None:
        raise PreprocessError(
            "The picture is empty: no item stands out from the background. "
            "Draw or upload a single piece of clothing."
        )
    top, bottom, left, right = box
    cropped = gray[top:bottom, left:right]
    steps.append(Step("cropped to the item", cropped, f"{right - left}x{bottom - top}"))
    # Zalando's order: resize the longest edge to 28, then pad the short edge to a centred
    # 28x28 square. (Padding first and resizing after puts the item half a pixel off.)
    h, w = cropped.shape
    scale = SIZE / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    small = Image.fromarray(cropped).resize((new_w, new_h), RESAMPLE)
    if scale < 1 and SHARPEN:  # Zalando sharpened after downscaling; so do we
        small = small.filter(ImageFilter.UnsharpMask(radius=1, percent=SHARPEN, threshold=0))
    resized = np.asarray(small, dtype=np.uint8)
    steps.append(Step("resized", resized, f"longest side 28 px ({new_w}x{new_h})"))
    final = _pad_square(resized, fill=int(np.median(_border(gray))))
    steps.append(Step("final 28x28", final, "padded to a centred square"))
    return final, steps
