"""Attribution maps and Grad-CAM as RGB pictures over the image they explain (numpy only:
the page, the CLI's PNG files and the report use the same pictures)."""

from __future__ import annotations

import numpy as np

# A perceptual "hot" ramp: black -> purple -> orange -> pale yellow, for maps in [0, 1].
_HOT = np.array(
    [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], np.float32
)
_EVIDENCE_FOR = np.array([220, 40, 30], np.float32)  # red: pixels that raise the class
_EVIDENCE_AGAINST = np.array([40, 110, 230], np.float32)  # blue: pixels that lower it


def hot(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] to RGB uint8 along the hot ramp."""
    v = np.clip(np.asarray(values, np.float32), 0, 1) * (len(_HOT) - 1)
    low = np.floor(v).astype(int).clip(0, len(_HOT) - 2)
    t = (v - low)[..., None]
    return ((1 - t) * _HOT[low] + t * _HOT[low + 1]).round().astype(np.uint8)


def _gray_rgb(image: np.ndarray) -> np.ndarray:
    g = np.asarray(image, np.float32).reshape(28, 28)
    return np.repeat(g[..., None], 3, axis=-1)


def gradcam_picture(image: np.ndarray, cam: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """(28, 28, 3) uint8: the Grad-CAM map in hot colours blended over the gray image."""
    heat = hot(cam).astype(np.float32)
    return (alpha * heat + (1 - alpha) * _gray_rgb(image)).round().clip(0, 255).astype(np.uint8)


def evidence_picture(image: np.ndarray, attr: np.ndarray, percentile: float = 99) -> np.ndarray:
    """(28, 28, 3) uint8: the gray image dimmed, with red where a pixel is evidence for the
    class and blue where it is evidence against, as strong as the attribution (scaled to its
    99th percentile of absolute values, so one extreme pixel does not wash out the rest)."""
    a = np.asarray(attr, np.float32).reshape(28, 28)
    scale = float(np.percentile(np.abs(a), percentile)) or float(np.abs(a).max()) or 1.0
    strength = np.clip(np.abs(a) / scale, 0, 1)[..., None]
    colour = np.where(a[..., None] >= 0, _EVIDENCE_FOR, _EVIDENCE_AGAINST)
    base = 0.45 * _gray_rgb(image)
    return (strength * colour + (1 - strength) * base).round().clip(0, 255).astype(np.uint8)


def feature_map_picture(values: np.ndarray, scale: float | None = None) -> np.ndarray:
    """One feature map (H, W) as gray uint8, 0 black and `scale` (default its maximum) white."""
    v = np.asarray(values, np.float32)
    top = float(scale if scale is not None else max(float(v.max()), 1e-12))
    return (np.clip(v / top, 0, 1) * 255).round().astype(np.uint8)
