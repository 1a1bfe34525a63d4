"""Where a model looked: pixel attributions, Grad-CAM, and how faithful each map is.

Gradients are taken with whatever backend Keras runs on (TensorFlow here, JAX on a GPU
machine, PyTorch too); the models are run as the Inspector's chain of Keras layers.

Faithfulness (`faithfulness`): blank (set to 0) the 20% of the item's pixels a map ranks
highest and see how much the predicted class's probability falls, against blanking a random
20% of the item's pixels. A map that points at what the model uses lowers it more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from fmnist_core.contracts import AttributionMethod
from fmnist_core.explain.inspector import InsideError, Inspector, LayerInfo, as_batch

IG_STEPS = 16
# The map the page and `explain` call "where it looked", chosen by the faithfulness test
# (bench/bench_inside.py, 200 test images, every shipped model): gradient x input passes about
# as often as integrated gradients at a fraction of the cost, and far more often than Grad-CAM.
FAITHFUL_METHOD: AttributionMethod = "gradient_x_input"
METHODS: dict[AttributionMethod, str] = {
    "gradient_x_input": "gradient x input",
    "integrated_gradients": "integrated gradients",
    "gradcam": "Grad-CAM",
}


def gradient(fn: Callable, x: np.ndarray) -> np.ndarray:
    """d fn(x) / dx for a scalar function of a backend tensor, on Keras' backend."""
    import keras  # loads TensorFlow: only when a model is built, run or saved

    backend = keras.backend.backend()
    x = np.asarray(x, np.float32)
    if backend == "tensorflow":
        import tensorflow as tf  # only the backend in use is imported

        t = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(t)
            y = fn(t)
        return tape.gradient(y, t).numpy()
    if backend == "jax":
        import jax  # only the backend in use is imported

        return np.asarray(jax.grad(fn)(jax.numpy.asarray(x)))
    if backend == "torch":
        import torch  # only the backend in use is imported

        t = torch.tensor(x, requires_grad=True, device=keras.backend.get_device() or None)
        fn(t).backward()
        return t.grad.detach().cpu().numpy()
    raise InsideError(f"Attributions need gradients, which the {backend} backend cannot give.")


def _class_scores(inspector: Inspector, start: int, classes: np.ndarray) -> Callable:
    """A function of layer `start`'s input: the sum over the batch of each row's class score."""
    import keras  # loads TensorFlow: only when a model is built, run or saved

    stop = inspector.score_index + 1
    onehot = np.eye(inspector.info[stop - 1].output_shape[-1], dtype=np.float32)[classes]

    def fn(x):
        scores = inspector.run(x, start, stop)
        return keras.ops.sum(scores * keras.ops.convert_to_tensor(onehot))

    return fn


def _classes_for(inspector: Inspector, x: np.ndarray, classes) -> np.ndarray:
    if classes is None:
        return inspector.probabilities(x).argmax(axis=1)
    classes = np.broadcast_to(np.asarray(classes, dtype=np.int64), (len(x),))
    if classes.min() < 0 or classes.max() >= inspector.info[-1].output_shape[-1]:
        raise InsideError(f"No class {int(classes.max())}: classes are 0 to 9.")
    return np.asarray(classes)


def gradient_x_input(inspector: Inspector, images, classes=None) -> np.ndarray:
    """(N, 28, 28): each pixel's value times the class score's gradient there."""
    x = as_batch(images)
    cls = _classes_for(inspector, x, classes)
    return (x * gradient(_class_scores(inspector, 0, cls), x))[..., 0]


def integrated_gradients(inspector: Inspector, images, classes=None, steps: int = IG_STEPS):
    """(N, 28, 28): the gradients along the straight path from a black image to the image
    (midpoint rule, `steps` points), times the image. Its sum over the pixels is the class
    score's rise from black to the image."""
    x = as_batch(images)
    cls = _classes_for(inspector, x, classes)
    alphas = (np.arange(steps, dtype=np.float32) + 0.5) / steps
    path = (alphas[:, None, None, None, None] * x[None]).reshape(-1, 28, 28, 1)
    grads = gradient(_class_scores(inspector, 0, np.tile(cls, steps)), path)
    mean = grads.reshape(steps, len(x), 28, 28, 1).mean(axis=0)
    return (x * mean)[..., 0]


def default_gradcam_layer(inspector: Inspector) -> LayerInfo:
    convs = inspector.conv_layers
    if not convs:
        raise InsideError(f"{inspector.name} has no convolution for Grad-CAM.")
    return convs[-1]


def gradcam(inspector: Inspector, images, classes=None, layer: str | None = None) -> np.ndarray:
    """(N, 28, 28) in [0, 1]: Grad-CAM on a convolution (default the last), at the end of its
    block: the maps weighted by the class score's mean gradient, summed, negatives dropped,
    enlarged to 28x28 and scaled to a maximum of 1."""
    x = as_batch(images)
    cls = _classes_for(inspector, x, classes)
    conv = inspector.layer(layer) if layer else default_gradcam_layer(inspector)
    if conv.kind != "conv":
        raise InsideError(f"Grad-CAM needs a convolution; {conv.name} is a {conv.type}.")
    end = inspector.block_end(conv)
    maps = inspector.forward(x, stop=end + 1)[-1]
    grads = gradient(_class_scores(inspector, end + 1, cls), maps)
    weights = grads.mean(axis=(1, 2), keepdims=True)
    cams = np.maximum((weights * maps).sum(axis=-1), 0)
    return np.stack([_to_unit(_resize(cam)) for cam in cams])


def attribution(
    inspector: Inspector,
    images,
    classes=None,
    method: AttributionMethod = FAITHFUL_METHOD,
    layer=None,
):
    """The map `method` names (see METHODS) for each image and class (`layer`: Grad-CAM's
    convolution, default the last)."""
    if method == "gradient_x_input":
        return gradient_x_input(inspector, images, classes)
    if method == "integrated_gradients":
        return integrated_gradients(inspector, images, classes)
    if method == "gradcam":
        return gradcam(inspector, images, classes, layer)
    raise InsideError(f"Unknown attribution method {method!r}; known: {', '.join(METHODS)}.")


def _resize(cam: np.ndarray, side: int = 28) -> np.ndarray:
    if cam.shape == (side, side):
        return cam.astype(np.float32)
    image = Image.fromarray(cam.astype(np.float32), mode="F")
    return np.asarray(image.resize((side, side), Image.Resampling.BILINEAR), np.float32)


def _to_unit(cam: np.ndarray) -> np.ndarray:
    top = float(cam.max())
    return (cam / top).astype(np.float32) if top > 0 else np.zeros_like(cam, np.float32)


# --------------------------------------------------------------------------- faithfulness


@dataclass(frozen=True)
class Faithfulness:
    method: AttributionMethod
    rate: float  # share of the images where the map's blanking beat the random blanking
    images: int
    drop_map: np.ndarray  # (N,) fall of the predicted class's probability, map's pixels blanked
    drop_random: np.ndarray  # (N,) the same, mean over random draws of as many item pixels

    def in_words(self) -> str:
        return (
            f"Blanking the 20% of the item's pixels that {METHODS[self.method]} ranks highest "
            f"lowered the answer's probability more than blanking a random 20% for "
            f"{self.rate:.0%} of {self.images} test images."
        )


def blank_top(image: np.ndarray, scores: np.ndarray, fraction: float = 0.2) -> np.ndarray:
    """The image with the `fraction` of its item pixels (value > 0) that `scores` ranks
    highest set to 0."""
    flat = image.reshape(-1).copy()
    item = np.flatnonzero(flat > 0)
    count = int(round(fraction * len(item)))
    if count:
        order = np.argsort(-scores.reshape(-1)[item], kind="stable")
        flat[item[order[:count]]] = 0
    return flat.reshape(image.shape)


def faithfulness(
    inspector: Inspector,
    images: np.ndarray,
    method: AttributionMethod = FAITHFUL_METHOD,
    fraction: float = 0.2,
    random_draws: int = 5,
    seed: int = 0,
    layer: str | None = None,
) -> Faithfulness:
    """The faithfulness test above, for the predicted class of each image (`layer`:
    Grad-CAM's convolution)."""
    x = as_batch(images)[..., 0]
    probs = inspector.probabilities(x)
    cls = probs.argmax(axis=1)
    maps = attribution(inspector, x, cls, method, layer)
    rng = np.random.default_rng(seed)
    blanked = [blank_top(img, m, fraction) for img, m in zip(x, maps)]
    for _ in range(random_draws):
        blanked += [blank_top(img, rng.random(img.shape), fraction) for img in x]
    after = inspector.probabilities(np.stack(blanked))
    rows = np.arange(len(x))
    p0 = probs[rows, cls]
    drop_map = p0 - after[rows, cls]
    drop_random = np.mean(
        [p0 - after[(d + 1) * len(x) + rows, cls] for d in range(random_draws)], axis=0
    )
    rate = float((drop_map > drop_random).mean())
    return Faithfulness(method, rate, len(x), drop_map, drop_random)


def faithfulness_images(y_test: np.ndarray, n: int = 200, seed: int = 0) -> np.ndarray:
    """The test images the faithfulness test uses: n/10 of every class, drawn with a seed."""
    rng = np.random.default_rng(seed)
    per = n // 10
    return np.sort(
        np.concatenate([rng.choice(np.flatnonzero(y_test == c), per, replace=False)
                        for c in range(10)])
    )  # fmt: skip
