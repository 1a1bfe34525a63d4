"""The inside of a trained model: its layers in order with the shapes a real forward pass
gives, the activations of every convolution and pooling layer, the first convolution's
filters, and the arithmetic behind one value of a first-layer feature map.

Works on any model of the registry as loaded from its `.keras` file, under any Keras
backend: the model is run layer by layer (nested models such as VGG19's base are opened up),
and that chain is checked against the model's own output when the Inspector is made. A
network with branches (the residual network's shortcuts) is run through its graph instead,
its layers in the order they compute; an ensemble of whole models is refused (its members
can be opened one by one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from fmnist_core.errors import FmnistError

CONV_TYPES = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")
POOL_TYPES = ("MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D")
# layers that finish a convolution's block: its feature maps as the next block sees them
_BLOCK_TAIL_TYPES = ("BatchNormalization", "Activation", "ReLU")


class InsideError(FmnistError):
    """A model whose inside cannot be shown (not a chain of layers), or a bad request."""


@dataclass(frozen=True)
class LayerInfo:
    index: int  # position in the chain (0 = the first layer after the input)
    name: str
    type: str
    output_shape: tuple[int, ...]  # without the batch axis, from a real forward pass
    params: int

    @property
    def kind(self) -> str:
        if self.type in CONV_TYPES:
            return "conv"
        if self.type in POOL_TYPES:
            return "pool"
        return "other"

    @property
    def has_maps(self) -> bool:
        """A layer whose output is feature maps (height x width x channels) worth showing."""
        return self.kind in ("conv", "pool") and len(self.output_shape) == 3

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "output_shape": list(self.output_shape),
            "params": self.params,
        }


@dataclass(frozen=True)
class Arithmetic:
    """How one value of a first-layer feature map comes about: kernel x patch + bias, then
    the layer's activation."""

    channel: int
    row: int
    col: int
    patch: np.ndarray  # (k, k, in_channels): the layer's input under the kernel (0 = padding)
    kernel: np.ndarray  # (k, k, in_channels)
    bias: float
    weighted_sum: float  # sum(kernel * patch) + bias
    activation: str  # "relu", "linear", ...
    value: float  # what the layer output holds at (row, col, channel)

    @property
    def products(self) -> np.ndarray:
        return self.patch * self.kernel


def _flatten_layers(model) -> list:
    import keras  # loads TensorFlow: only when a model is built, run or saved

    out = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model) and getattr(layer, "layers", None):
            out.extend(_flatten_layers(layer))
        else:
            out.append(layer)
    return out


def _graph(model) -> tuple[list, list, list[list[int]]]:
    """A functional model's layers in the order they compute, with their call nodes and the
    index of the layer each input comes from (-1: the model's input)."""
    import keras  # loads TensorFlow: only when a model is built, run or saved

    nodes = [
        node
        for depth in sorted(model._nodes_by_depth, reverse=True)
        for node in model._nodes_by_depth[depth]
        if node.operation is not None and not node.is_input
    ]
    layers = [node.operation for node in nodes]
    if any(isinstance(layer, keras.Model) for layer in layers):
        members = ", ".join(layer.name for layer in layers if isinstance(layer, keras.Model))
        raise InsideError(
            f"{model.name} runs whole models side by side ({members}); open one of them to "
            "see its inside."
        )
    producer = {id(t): i for i, node in enumerate(nodes) for t in node.outputs}
    parents = [[producer.get(id(t), -1) for t in node.input_tensors] for node in nodes]
    return layers, nodes, parents


def _numpy(x) -> np.ndarray:
    if hasattr(x, "numpy"):  # TensorFlow's eager tensors (and torch's, on the CPU)
        return np.asarray(x.numpy())
    return np.asarray(x)


def as_batch(images) -> np.ndarray:
    """One 28x28 image or a stack of them as the models' (N, 28, 28, 1) float32 input."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 2 or x.shape == (28, 28, 1):
        x = x[None]
    if x.ndim == 3 and x.shape[-1] != 1:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != (28, 28, 1):
        raise InsideError(f"Expected 28x28 images, got an array of shape {np.shape(images)}.")
    return x


class Inspector:
    """One loaded model, opened up as its layers in order (a chain, or a graph's order)."""

    def __init__(self, model, name: str | None = None):
        self.model = model
        self.name = name or model.name
        self.layers = _flatten_layers(model)
        self._nodes: list | None = None  # a graph's call nodes (None: a plain chain)
        self._parents: list[list[int]] | None = None
        if not self.layers:
            raise InsideError(f"{self.name} has no layers to show.")
        probe = np.linspace(0, 255, 28 * 28, dtype=np.float32).reshape(1, 28, 28, 1)
        expected = _numpy(model(probe, training=False))
        try:
            outputs = self.forward(probe)
        except Exception:  # a layer that takes more than the previous one's output
            outputs = None
        if outputs is None or not np.allclose(outputs[-1], expected, atol=1e-4):
            if not hasattr(model, "_nodes_by_depth"):
                raise InsideError(f"{self.name} is not a chain of layers or a Keras graph.")
            self.layers, self._nodes, self._parents = _graph(model)
            outputs = self.forward(probe)
            if not np.allclose(outputs[-1], expected, atol=1e-4):
                raise InsideError(f"{self.name}'s layers do not add up to its output.")
        self.info = [
            LayerInfo(i, layer.name, type(layer).__name__, tuple(out.shape[1:]),
                      int(layer.count_params()))
            for i, (layer, out) in enumerate(zip(self.layers, outputs))
        ]  # fmt: skip
        self._by_name = {info.name: info for info in self.info}
        self._recent: dict[str, dict[str, np.ndarray]] = {}  # activations by image hash
        # where the network can be cut: every later layer takes only that layer's output
        # (or later ones); in a chain, every layer
        self._cuts = self._cut_points()

    # ------------------------------------------------------------------ running the layers

    @property
    def is_graph(self) -> bool:
        """True for a network with branches (shortcuts), run through its graph."""
        return self._nodes is not None

    def _cut_points(self) -> set[int]:
        if self._parents is None:
            return set(range(-1, len(self.layers)))
        cuts = set()
        for k in range(-1, len(self.layers)):
            if all(p >= k for j in range(k + 1, len(self.layers)) for p in self._parents[j]):
                cuts.add(k)
        return cuts

    def _steps(self, x, start: int, stop: int | None):
        """Yield each layer's output from layer `start` to `stop`-1, x being the output of
        layer start-1 (the model's input for start 0)."""
        stop = len(self.layers) if stop is None else stop
        # (locals: a yield ends what a check of an attribute tells mypy)
        nodes, parents_of = self._nodes, self._parents  # set together (None: a plain chain)
        if nodes is None or parents_of is None:
            for layer in self.layers[start:stop]:
                x = layer(x, training=False)
                yield x
            return
        values = {start - 1: x}
        for i in range(start, stop):
            parents = parents_of[i]
            if any(p not in values for p in parents):
                raise InsideError(
                    f"{self.name} cannot be run from layer {start}: a shortcut skips over it."
                )
            node = nodes[i]
            known = {id(t): values[p] for t, p in zip(node.input_tensors, parents)}
            args, kwargs = node.arguments.fill_in(known)
            kwargs["training"] = False
            values[i] = self.layers[i](*args, **kwargs)
            yield values[i]

    def run(self, x, start: int = 0, stop: int | None = None):
        """The layers start..stop-1 applied to x (a backend tensor or array), x being what
        layer start-1 gave (the pixels for start 0)."""
        out = x
        for out in self._steps(x, start, stop):  # noqa: B007 - the last layer's output
            pass
        return out

    def forward(self, images, stop: int | None = None) -> list[np.ndarray]:
        """Every layer's output for a batch, in order (up to layer `stop`), as numpy arrays."""
        import keras  # loads TensorFlow: only when a model is built, run or saved

        x = keras.ops.convert_to_tensor(as_batch(images))
        return [_numpy(out) for out in self._steps(x, 0, stop)]

    def probabilities(self, images) -> np.ndarray:
        import keras  # loads TensorFlow: only when a model is built, run or saved

        return _numpy(self.run(keras.ops.convert_to_tensor(as_batch(images))))

    @property
    def score_index(self) -> int:
        """The index of the layer whose output is the class scores explained: the logits
        before the softmax when the model has them, else its output."""
        for info in self.info:
            if info.name == "logits":
                return info.index
        last = self.layers[-1]
        if type(last).__name__ == "Activation" and len(self.layers) > 1:
            return len(self.layers) - 2  # a separate softmax: explain what goes into it
        return len(self.layers) - 1

    # ------------------------------------------------------------------ what to show

    def layer(self, name: str) -> LayerInfo:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name)
            raise InsideError(f"{self.name} has no layer {name!r}; it has {known}.") from None

    @property
    def map_layers(self) -> list[LayerInfo]:
        """The convolution and pooling layers, whose outputs are feature maps."""
        return [info for info in self.info if info.has_maps]

    @property
    def conv_layers(self) -> list[LayerInfo]:
        return [info for info in self.info if info.kind == "conv"]

    def block_end(self, conv: LayerInfo) -> int:
        """The index of the layer that finishes a convolution's block (its batch norm and
        activation when they are separate layers): Grad-CAM looks at the maps there."""
        end = conv.index
        while True:  # in a residual network: on to the block's output, after the shortcut's add
            while end + 1 < len(self.info) and self.info[end + 1].type in _BLOCK_TAIL_TYPES:
                end += 1
            if end in self._cuts:
                return end
            end += 1

    def activations(self, image) -> dict[str, np.ndarray]:
        """The (H, W, C) output of every convolution and pooling layer for one image (the
        last few images' are kept: a page's grid and enlarged map ask for the same ones)."""
        x = as_batch(image)[:1]
        key = hashlib.blake2b(x.tobytes(), digest_size=16).hexdigest()
        kept = self._recent.get(key)
        if kept is None:
            outputs = self.forward(x)
            kept = {info.name: outputs[info.index][0] for info in self.map_layers}
            self._recent[key] = kept
            while len(self._recent) > 8:
                self._recent.pop(next(iter(self._recent)), None)
        return kept

    def first_conv(self) -> LayerInfo:
        convs = self.conv_layers
        if not convs:
            raise InsideError(f"{self.name} has no convolution.")
        return convs[0]

    def filters(self) -> tuple[np.ndarray, np.ndarray]:
        """The first convolution's kernels (k, k, in, out) and biases (out,), zeros when the
        layer has none (a batch norm follows it)."""
        layer = self.layers[self.first_conv().index]
        kernel = _numpy(layer.kernel)
        bias = _numpy(layer.bias) if getattr(layer, "bias", None) is not None else None
        return kernel, (np.zeros(kernel.shape[-1], np.float32) if bias is None else bias)

    def arithmetic(self, image, channel: int, row: int, col: int) -> Arithmetic:
        """The first convolution's value at (row, col) of `channel`, worked out by hand."""
        import keras  # loads TensorFlow: only when a model is built, run or saved

        conv = self.first_conv()
        layer = self.layers[conv.index]
        if type(layer).__name__ != "Conv2D" or getattr(layer, "dilation_rate", (1, 1)) != (1, 1):
            raise InsideError(f"{conv.name} is not a plain convolution.")
        x = keras.ops.convert_to_tensor(as_batch(image)[:1])
        inputs = _numpy(self.run(x, 0, conv.index))[0]  # what the convolution sees
        value_map = _numpy(self.run(keras.ops.convert_to_tensor(inputs[None]), conv.index,
                                    conv.index + 1))[0]  # fmt: skip
        out_h, out_w, channels = value_map.shape
        if not (0 <= channel < channels and 0 <= row < out_h and 0 <= col < out_w):
            raise InsideError(
                f"{conv.name} has {channels} maps of {out_h}x{out_w}; "
                f"there is no value at row {row}, column {col} of map {channel}."
            )
        kernel, bias = self.filters()
        kh, kw = kernel.shape[:2]
        sh, sw = layer.strides
        top, left = 0, 0
        if layer.padding == "same":
            in_h, in_w = inputs.shape[:2]
            top = max((out_h - 1) * sh + kh - in_h, 0) // 2
            left = max((out_w - 1) * sw + kw - in_w, 0) // 2
        padded = np.pad(inputs, ((top, kh), (left, kw), (0, 0)))
        y, x0 = row * sh, col * sw
        patch = padded[y : y + kh, x0 : x0 + kw, :]
        k = kernel[..., channel]
        total = float((patch * k).sum() + bias[channel])
        activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
        return Arithmetic(
            channel, row, col, patch, k, float(bias[channel]), total, activation,
            float(value_map[row, col, channel]),
        )  # fmt: skip


def apply_activation(name: str, value: float) -> float:
    """A scalar through the activations a first convolution uses (for the worked sum)."""
    if name == "relu":
        return max(value, 0.0)
    if name == "linear":
        return value
    if name == "sigmoid":
        return float(1 / (1 + np.exp(-value)))
    if name == "tanh":
        return float(np.tanh(value))
    raise InsideError(f"No worked example for the activation {name!r}.")


def strongest_channels(maps: np.ndarray) -> np.ndarray:
    """The channel order of (H, W, C) feature maps, strongest (highest mean) first."""
    return np.argsort(-maps.reshape(-1, maps.shape[-1]).mean(axis=0), kind="stable")
