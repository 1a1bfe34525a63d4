"""One image through one model, explained: its top classes with their probabilities, for
each the faithful attribution map and Grad-CAM, and the layers it went through. What the
Inside-the-CNN page shows and `python -m fmnist_core explain` prints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.contracts import AttributionMethod
from fmnist_core.data.gallery import png_bytes, tile
from fmnist_core.explain.attribution import (
    FAITHFUL_METHOD,
    attribution,
    default_gradcam_layer,
    gradcam,
)
from fmnist_core.explain.heatmaps import evidence_picture, feature_map_picture, gradcam_picture
from fmnist_core.explain.inspector import InsideError, Inspector, as_batch, strongest_channels


@dataclass(frozen=True)
class ClassView:
    label: int
    probability: float
    attribution: np.ndarray  # (28, 28): higher = more evidence for the class
    gradcam: np.ndarray  # (28, 28) in [0, 1]

    @property
    def class_name(self) -> str:
        return CLASS_NAMES[self.label]


@dataclass(frozen=True)
class Explanation:
    model: str
    image: np.ndarray  # (28, 28) the model input
    probabilities: np.ndarray  # (10,)
    views: list[ClassView]  # the explained classes, in the order asked
    method: AttributionMethod
    gradcam_layer: str

    def as_json(self) -> dict:
        first = self.views[0]
        return {
            "class": first.label,
            "class_name": first.class_name,
            "probability": round(first.probability, 6),
            "method": self.method,
            "gradcam_layer": self.gradcam_layer,
            "attribution": np.round(first.attribution, 6).tolist(),
            "gradcam": np.round(first.gradcam, 6).tolist(),
        }


def explain(
    inspector: Inspector,
    image: np.ndarray,
    classes: list[int] | None = None,
    top: int = 3,
    gradcam_layer: str | None = None,
    method: AttributionMethod = FAITHFUL_METHOD,
) -> Explanation:
    """The maps for `classes` (default: the `top` most probable), in one gradient pass each."""
    x = as_batch(image)[:1]
    probs = inspector.probabilities(x)[0]
    if classes is None:
        classes = [int(c) for c in np.argsort(-probs, kind="stable")[:top]]
    classes = [int(c) for c in classes]
    if any(not 0 <= c < len(probs) for c in classes):
        raise InsideError(f"Classes are 0 to {len(probs) - 1}; got {classes}.")
    repeated = np.repeat(x, len(classes), axis=0)
    attrs = attribution(inspector, repeated, classes, method)
    layer = gradcam_layer or default_gradcam_layer(inspector).name
    cams = gradcam(inspector, repeated, classes, layer)
    views = [ClassView(c, float(probs[c]), attrs[i], cams[i]) for i, c in enumerate(classes)]
    return Explanation(inspector.name, x[0, ..., 0], probs, views, method, layer)


def first_layer_grid(inspector: Inspector, image: np.ndarray, cols: int = 8) -> np.ndarray:
    """The first convolution's feature maps, strongest first, as one gray tile picture."""
    maps = inspector.activations(image)[inspector.first_conv().name]
    order = strongest_channels(maps)
    top = float(maps.max()) or 1.0
    pictures = np.stack([feature_map_picture(maps[..., c], top) for c in order])
    return tile(pictures, cols=cols, scale=2, pad=2)


def write_pictures(explanation: Explanation, inspector: Inspector, folder: Path, stem: str):
    """PNG files for one explained image: the input, and per explained class the evidence
    map and Grad-CAM; plus the first layer's feature maps. Returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    image = explanation.image
    files = {f"{stem}-input.png": png_bytes(np.clip(image, 0, 255).astype(np.uint8), scale=8)}
    for view in explanation.views:
        name = view.class_name.replace("/", "-").replace(" ", "-").lower()
        evidence = evidence_picture(image, view.attribution)
        files[f"{stem}-{name}-evidence.png"] = png_bytes(evidence, scale=8)
        files[f"{stem}-{name}-gradcam.png"] = png_bytes(
            gradcam_picture(image, view.gradcam), scale=8
        )
    files[f"{stem}-first-layer.png"] = png_bytes(first_layer_grid(inspector, image), scale=2)
    written = []
    for filename, data in files.items():
        (folder / filename).write_bytes(data)
        written.append(folder / filename)
    return written
