"""The home page's pictures, one per action, each a square grayscale image of the same size:
a drawing as the canvas makes it, quiz images, a famous confusion, and what a convolution
responds to."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.data.gallery import tile

SIDE = 230  # two 28-pixel images at scale 4, with the tile's padding


def drawing_picture() -> np.ndarray:
    """A T-shirt drawn in light strokes on black, as a person draws one on Predict's canvas
    (no dataset needed: the page draws it whether or not the data is there)."""
    img = Image.new("L", (SIDE, SIDE), 0)
    d = ImageDraw.Draw(img)
    outline = [(78, 40), (100, 52), (132, 52), (154, 40), (200, 74), (184, 104), (164, 94),
               (164, 196), (68, 196), (68, 94), (48, 104), (32, 74), (78, 40)]  # fmt: skip
    d.line(outline, fill=235, width=9, joint="curve")
    d.arc((100, 30, 132, 68), 20, 160, fill=235, width=8)  # the collar
    return np.asarray(img)


def _pair_rows(x: np.ndarray, y: np.ndarray, classes: tuple[int, ...], offset: int) -> np.ndarray:
    picks = [np.flatnonzero(y == c)[offset : offset + 2] for c in classes]
    return tile(np.concatenate([x[p] for p in picks]), cols=2, scale=4)


def quiz_picture(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Four test images of four classes, hard to tell at a glance."""
    picks = [int(np.flatnonzero(y == c)[7]) for c in (CLASS_NAMES.index(n) for n in
             ("Shirt", "Pullover", "Coat", "T-shirt/top"))]  # fmt: skip
    return tile(x[picks], cols=2, scale=4)


def confusion_picture(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Two shirts above two T-shirts: the pair every model here mixes up most."""
    return _pair_rows(x, y, (CLASS_NAMES.index("Shirt"), CLASS_NAMES.index("T-shirt/top")), 3)


EDGE_FILTERS = {
    "vertical edges": np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], float),
    "horizontal edges": np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], float),
    "a diagonal": np.array([[2, 1, 0], [1, 0, -1], [0, -1, -2]], float),
}


def convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """A 3x3 convolution with zero padding, as a CNN's first layer computes one feature map
    (before its bias and ReLU); the same size as `image`."""
    padded = np.pad(np.asarray(image, float), 1)
    h, w = image.shape
    out = np.zeros((h, w))
    for dy in range(3):
        for dx in range(3):
            out += kernel[dy, dx] * padded[dy : dy + h, dx : dx + w]
    return out


def convolution_picture(image: np.ndarray) -> np.ndarray:
    """An image and how strongly three edge filters respond to it (either sign), each scaled
    so its strongest 2% of pixels are white."""
    maps: list[np.ndarray] = [np.asarray(image, np.uint8)]
    for kernel in EDGE_FILTERS.values():
        response = np.abs(convolve(image, kernel))
        top = max(float(np.percentile(response, 98)), 1e-9)
        maps.append(np.asarray(255 * np.clip(response / top, 0, 1), np.uint8))
    return tile(np.stack(maps), cols=2, scale=4)
