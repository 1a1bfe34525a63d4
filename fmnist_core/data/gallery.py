"""Image grids as plain arrays: upscaled, padded tiles that look crisp in a browser."""

from __future__ import annotations

import base64
import hashlib
import io

import numpy as np
from PIL import Image


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling: pixels stay square instead of being blurred by the browser."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)  # keeps any channels


def tile(
    images: np.ndarray, cols: int, scale: int = 3, pad: int = 2, background: int = 40
) -> np.ndarray:
    """Arrange (N, H, W) uint8 images in a grid of `cols` columns; returns one uint8 image."""
    images = np.asarray(images, dtype=np.uint8)
    n, h, w = images.shape
    rows = -(-n // cols)
    hs, ws = h * scale, w * scale
    out = np.full((rows * (hs + pad) + pad, cols * (ws + pad) + pad), background, dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        y, x = pad + r * (hs + pad), pad + c * (ws + pad)
        out[y : y + hs, x : x + ws] = upscale(img, scale)
    return out


def examples_per_class(labels: np.ndarray, per_class: int, num_classes: int = 10) -> np.ndarray:
    """Indices of the first `per_class` images of every class: shape (num_classes, per_class)."""
    return np.stack([np.flatnonzero(labels == c)[:per_class] for c in range(num_classes)])


def thumbnail(image: np.ndarray, side: int = 112, background: int = 235) -> np.ndarray:
    """Any gray or RGB image fitted into a side x side square (for showing steps side by side).

    Small images are enlarged by whole pixels so they stay crisp; large ones are reduced.
    """
    image = np.asarray(image, dtype=np.uint8)
    h, w = image.shape[:2]
    if max(h, w) <= side // 2:
        image = upscale(image, side // max(h, w))
    else:
        pil = Image.fromarray(image)
        pil.thumbnail((side, side), Image.Resampling.LANCZOS)
        image = np.asarray(pil)
    h, w = image.shape[:2]
    out = np.full((side, side, *image.shape[2:]), background, dtype=np.uint8)
    top, left = (side - h) // 2, (side - w) // 2
    out[top : top + h, left : left + w] = image
    return out


def data_url(png: bytes) -> str:
    """PNG bytes as a data URL: st.image sends it as it is, without re-opening the picture to
    check its size or storing it with the media file manager (which the browser then fetches
    in a request of its own): for the small pictures a page shows on every rerun."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def png_bytes(image: np.ndarray, scale: int = 1) -> bytes:
    """An image (gray or RGB, uint8) as PNG bytes, enlarged `scale` times with square pixels:
    the one PNG encoder of the project (pages, exports, reports, the CLI's files)."""
    image = np.asarray(image, np.uint8)
    buf = io.BytesIO()
    Image.fromarray(upscale(image, scale) if scale > 1 else image).save(buf, "PNG")
    return buf.getvalue()


def png_data_uri(image: np.ndarray) -> str:
    """An image as a PNG data URI, for HTML and figures that must carry their pictures."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


def image_digest(source) -> str:
    """A short hash of an image source (an array, bytes, or anything else by its repr): the
    key under which pages keep what they computed for a picture."""
    if isinstance(source, np.ndarray):
        data = np.ascontiguousarray(source).tobytes() + str(source.shape).encode()
    elif isinstance(source, bytes | bytearray):
        data = bytes(source)
    else:
        data = repr(source).encode()
    return hashlib.blake2b(data, digest_size=16).hexdigest()
