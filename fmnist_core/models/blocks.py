"""Building blocks shared by the architectures: the scaled input, the softmax head, a compact
layer list. Keras 3 layers only, so models build under TensorFlow and JAX alike."""

from __future__ import annotations

from fmnist_core.classes import NUM_CLASSES


def keras_module():
    import keras  # imported on first build, so listing models stays instant

    return keras


def inputs_scaled(name: str):
    keras = keras_module()
    inputs = keras.Input(shape=(28, 28, 1), name="pixels")
    return inputs, keras.layers.Rescaling(1.0 / 255, name="scale_0_1")(inputs)


def head(x, inputs, name: str):
    layers = keras_module().layers
    x = layers.Dense(NUM_CLASSES, name="logits")(x)
    # float32 softmax keeps probabilities exact under mixed precision on a GPU
    outputs = layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    return keras_module().Model(inputs, outputs, name=name)


def stack(name: str, spec: list[tuple]):
    """Build scaled input -> layers from a compact list -> softmax head."""
    layers = keras_module().layers
    inputs, x = inputs_scaled(name)
    for kind, *args in spec:
        if kind == "conv":
            filters, kw = args[0], (args[1] if len(args) > 1 else {})
            x = layers.Conv2D(filters, 3, activation="relu", **kw)(x)
        elif kind == "pool":
            x = layers.MaxPooling2D(2)(x)
        elif kind == "drop":
            x = layers.Dropout(args[0])(x)
        elif kind == "bn":
            x = layers.BatchNormalization()(x)
        elif kind == "flat":
            x = layers.Flatten()(x)
        elif kind == "gap":
            x = layers.GlobalAveragePooling2D()(x)
        elif kind == "dense":
            units, kw = args[0], (args[1] if len(args) > 1 else {})
            x = layers.Dense(units, activation="relu", **kw)(x)
        else:  # pragma: no cover - a typo in a spec list
            raise ValueError(kind)
    return head(x, inputs, name)
