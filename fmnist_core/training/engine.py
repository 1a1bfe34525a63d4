"""The training engine: input pipeline, fit with history and progress, augmentation, k-fold.

One code path for the CLI and the app. The pipeline follows KERAS_BACKEND: tf.data under
TensorFlow (tf.distribute for --distribute), a keras.utils.PyDataset over numpy under JAX or
PyTorch (keras.distribution for --distribute).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

import keras
import numpy as np
from keras import ops

from fmnist_core.contracts import (
    PICTURE_STYLE_AUGMENTATIONS,
    EpochRow,
    FoldResult,
    KFoldResult,
    Precision,
    ProgressEvent,
    ProgressFn,
    TrainPhase,
)
from fmnist_core.data.augment import STYLE_SHARES, CropFlipErase, PictureStyles
from fmnist_core.errors import FmnistError
from fmnist_core.models import ModelSpec, Recipe

if TYPE_CHECKING:
    from fmnist_core.training.checkpoint import Restored  # for the types only

log = logging.getLogger(__name__)

# Integer labels throughout: sparse categorical cross-entropy is the same loss as the
# tutorials' categorical cross-entropy on one-hot labels, without the one-hot copy.
TRAINING_LOSS = "sparse_categorical_crossentropy"

# Tutorial 000's ImageDataGenerator settings (shear is in degrees there).
AUGMENTATION = {"rotation_degrees": 8, "shift": 0.08, "shear_degrees": 0.3, "zoom": 0.08}


# After each complete epoch: save(model, history so far, phase index, epochs of that phase
# done, training seconds so far) (training/checkpoint.py's Checkpointer.save).
EpochSaver = Callable[[Any, list[EpochRow], int, int, float], None]


class TrainingCancelled(FmnistError):
    """Training stopped because the caller asked it to."""


@dataclass
class TrainResult:
    model: Any
    history: list[EpochRow]  # one dict per epoch: loss, accuracy, val_*, seconds, phase
    recipe: Recipe
    seconds: float
    device: str
    backend: str
    best_epoch: int | None = None
    replicas: int = 1  # devices that trained in sync (--distribute)
    precision: Precision = "float32"  # the dtype policy it trained in


# --------------------------------------------------------------------------- environment


def backend_name() -> str:
    return keras.backend.backend()


def device_description() -> str:
    """'GPU: <name>' when training will use a GPU, else 'CPU'."""
    backend = backend_name()
    try:
        if backend == "tensorflow":
            import tensorflow as tf  # only the backend in use is imported

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return f"GPU: {details.get('device_name', gpus[0].name)} x{len(gpus)}"
        elif backend == "jax":
            import jax  # only the backend in use is imported

            devs = [d for d in jax.devices() if d.platform == "gpu"]
            if devs:
                return f"GPU: {devs[0].device_kind} x{len(devs)}"
        elif backend == "torch":
            import torch  # only the backend in use is imported

            if torch.cuda.is_available():
                return f"GPU: {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    except Exception as e:  # a broken driver means CPU, not a crash
        log.warning("Could not query the GPU (%s: %s); using the CPU", type(e).__name__, e)
    return "CPU"


PRECISIONS: tuple[Precision, ...] = ("float32", "mixed_float16", "mixed_bfloat16")


def precision_for(device: str, precision: str | None = None) -> Precision:
    """The dtype policy a run trains in: as asked, else float16 on a GPU, float32 on a CPU.
    (bfloat16, faster on a CPU with AVX512-BF16, only when asked for.)"""
    if precision is None:
        return "mixed_float16" if device.startswith("GPU") else "float32"
    if precision not in PRECISIONS:
        raise FmnistError(f"unknown precision {precision!r} ({', '.join(PRECISIONS)})")
    return precision


def _configure_precision(device: str, precision: str | None = None) -> Precision:
    policy = precision_for(device, precision)
    keras.mixed_precision.set_global_policy(policy)
    return policy


# --------------------------------------------------------------------------- augmentation


class RandomAffine(keras.layers.RandomRotation):
    """Rotation, shift, shear and zoom as ONE affine transform per image, like Keras'
    ImageDataGenerator did. Chaining RandomRotation, RandomTranslation, RandomShear and
    RandomZoom resamples every image four times: the blur that adds makes the training
    images softer than the test images and costs test accuracy.

    Built on RandomRotation for its backend handling (it runs inside tf.data under any
    backend) and its affine-matrix helper; only the sampled transform differs.
    """

    def __init__(self, rotation_degrees, shift, shear_degrees, zoom, seed=None, **kwargs):
        super().__init__(factor=rotation_degrees / 360.0, fill_mode="constant", seed=seed, **kwargs)
        self.rotation_degrees, self.shift = rotation_degrees, shift
        self.shear_degrees, self.zoom = shear_degrees, zoom

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        ops = self.backend
        images = data["images"] if isinstance(data, dict) else data
        shape = ops.core.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        if seed is None:
            seed = self._get_seed_generator(ops._backend)

        def uniform(low, high):
            return ops.random.uniform(shape=(batch,), minval=low, maxval=high, seed=seed)

        h, w = ops.cast(height, "float32"), ops.cast(width, "float32")
        matrix = self._compute_affine_matrix(
            center_x=0.5,
            center_y=0.5,
            angle=uniform(-self.rotation_degrees, self.rotation_degrees),
            translate_x=uniform(-self.shift, self.shift) * w,
            translate_y=uniform(-self.shift, self.shift) * h,
            scale=uniform(1.0 - self.zoom, 1.0 + self.zoom),
            shear_x=uniform(-self.shear_degrees, self.shear_degrees),
            shear_y=ops.numpy.zeros((batch,)),
            height=height,
            width=width,
        )
        return {"rotation_matrix": matrix, "image_height": height, "image_width": width,
                "batch_size": batch}  # fmt: skip


def augmentation_kind(augment: bool | str) -> str | None:
    """None (no augmentation), or its kind: True means tutorial 000's affine transform."""
    return "affine" if augment is True else (augment or None)


# Augmentations that take their random numbers per batch from the pipeline (a key per epoch
# and batch), so a run repeats exactly however the workers are scheduled.
KEYED_AUGMENTATIONS = ("styles", "clipart", "shapes", "crops")


def make_augmenter(seed: int = 0, kind: str = "affine", photo_share: float | None = None):
    """The augmented phase's transform, run in the input pipeline, not in the model:
    tutorial 000's affine augmentation, the picture styles of users' drawings and uploads
    ("clipart": with cartoon clip art and three-quarter views too; "shapes": with long
    coats and bags with straps, from the labels) (with `photo_share` of the images left as
    photos, default STYLE_SHARES'), or the residual networks' crop, mirror and erase."""
    if kind in PICTURE_STYLE_AUGMENTATIONS:
        share = STYLE_SHARES["photo"] if photo_share is None else photo_share
        # pixels stay float32 under mixed precision
        return PictureStyles(seed=seed, photo_share=share, clip_art=kind == "clipart",
                             class_shapes=kind == "shapes", dtype="float32")  # fmt: skip
    if kind == "crops":
        return CropFlipErase(seed=seed, dtype="float32")
    if kind != "affine":
        raise FmnistError(
            f"unknown augmentation {kind!r} (affine, styles, clipart, shapes or crops)"
        )
    a = AUGMENTATION
    return RandomAffine(a["rotation_degrees"], a["shift"], a["shear_degrees"], a["zoom"], seed=seed)


# --------------------------------------------------------------------------- input pipeline


def _as_images(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, 28, 28, 1) if x.ndim == 3 else x


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    augment: bool | str = False,
    photo_share: float | None = None,
):
    """Batches of (float32 pixels 0-255, int labels) in the form the backend trains fastest on.
    `augment`: False, True (tutorial 000's affine transform) or an augmentation kind;
    `photo_share`: the picture styles' share of images left as photos."""
    x = _as_images(x)
    kind = augmentation_kind(augment)
    if backend_name() == "tensorflow":
        return _tf_dataset(x, y, batch_size, shuffle=shuffle, seed=seed, augment=kind,
                           photo_share=photo_share)  # fmt: skip
    return ArrayBatches(x, y, batch_size, shuffle=shuffle, seed=seed, augment=kind,
                        photo_share=photo_share)  # fmt: skip


def _tf_dataset(x, y, batch_size, *, shuffle, seed, augment, photo_share=None):
    import tensorflow as tf  # only the backend in use is imported

    xs, ys = tf.constant(x), tf.constant(y.astype(np.int32))
    n = len(x)
    full, rest = divmod(n, batch_size)

    # One permutation of the indices per epoch, cut into batches, then one vectorised gather
    # per batch: no per-image work in the pipeline (as Keras does for numpy arrays). The
    # permutation is stateless, seeded by a per-iteration random number, so every epoch has a
    # new order and a run with the same seed repeats exactly. Each batch carries its own key
    # (epoch seed, batch number) for augmentations that must not depend on the order in which
    # parallel workers map the batches.
    def epoch_batches(epoch_seed):
        idx = tf.range(n, dtype=tf.int64)
        if shuffle:
            key = tf.stack([epoch_seed, tf.constant(seed, tf.int64)])
            idx = tf.random.experimental.stateless_shuffle(idx, seed=key)
        batches = tf.data.Dataset.from_tensor_slices(
            tf.reshape(idx[: full * batch_size], [full, batch_size])
        )
        if rest:
            batches = batches.concatenate(tf.data.Dataset.from_tensors(idx[full * batch_size :]))
        return batches.enumerate().map(lambda i, b: (tf.stack([epoch_seed, i]), b))

    ds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    ds = ds.flat_map(epoch_batches)
    ds = ds.apply(tf.data.experimental.assert_cardinality(full + (rest > 0)))  # for Keras
    ds = ds.map(
        lambda key, idx: (key, tf.cast(tf.gather(xs, idx), tf.float32), tf.gather(ys, idx)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    if augment in KEYED_AUGMENTATIONS:
        styles = make_augmenter(seed, augment, photo_share)

        def styled(key, b, lab):
            draws = tf.random.stateless_uniform(
                [tf.shape(b)[0], styles.RANDOM_DRAWS], seed=key + tf.constant([0, seed], tf.int64)
            )
            return styles(b, training=True, randomness=draws, labels=lab), lab

        ds = ds.map(styled, num_parallel_calls=tf.data.AUTOTUNE)
    elif augment:
        augmenter = make_augmenter(seed, augment)
        ds = ds.map(
            lambda key, b, lab: (augmenter(b, training=True), lab),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    else:
        ds = ds.map(lambda key, b, lab: (b, lab))
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False  # as Keras does
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


class ArrayBatches(keras.utils.PyDataset):
    """Shuffled (optionally augmented) batches from numpy arrays: the JAX / PyTorch pipeline."""

    def __init__(self, x, y, batch_size, *, shuffle, seed, augment, photo_share=None):
        super().__init__()
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x)) if shuffle else np.arange(len(x))
        augment = augmentation_kind(augment)
        self.augmenter: Any = make_augmenter(seed, augment, photo_share) if augment else None
        self.styles = augment in KEYED_AUGMENTATIONS
        self.seed, self.epoch = seed, 0

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, i):
        idx = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        batch = self.x[idx].astype(np.float32)
        if self.styles:  # one key per (seed, epoch, batch): the same whichever worker maps it
            draws = np.random.default_rng([self.seed, self.epoch, i]).random(
                (len(idx), self.augmenter.RANDOM_DRAWS), dtype=np.float32
            )
            labels = self.y[idx].astype(np.int32)
            batch = np.asarray(
                self.augmenter(batch, training=True, randomness=draws, labels=labels)
            )
        elif self.augmenter is not None:
            batch = np.asarray(self.augmenter(batch, training=True))
        return batch, self.y[idx].astype(np.int32)

    def on_epoch_end(self):
        self.epoch += 1
        if self.shuffle:
            self.order = self.rng.permutation(len(self.x))


# --------------------------------------------------------------------------- callbacks


def _callbacks(
    progress: ProgressFn | None,
    should_stop: Callable[[], bool] | None,
    phase: TrainPhase,
    epoch_offset: int,
    total_epochs: int,
    steps: int,
):
    class EngineCallback(keras.callbacks.Callback):
        """Times epochs, reports progress, and honours cancellation between batches."""

        def __init__(self):
            super().__init__()
            self.epochs: list[EpochRow] = []
            self.cancelled = False
            self.current = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.current = epoch
            self.t0 = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            # with grouped steps, `batch` is the group's last step (past the end on a short
            # last group)
            if should_stop is not None and should_stop():
                self.cancelled = True
                self.model.stop_training = True
            if progress is not None:
                progress({
                    "event": "batch", "phase": phase, "epoch": epoch_offset + self.current + 1,
                    "epochs": total_epochs, "batch": min(batch + 1, steps), "batches": steps,
                    "logs": cast(EpochRow, {k: float(v) for k, v in (logs or {}).items()}),
                })  # fmt: skip

        def on_epoch_end(self, epoch, logs=None):
            # Keras' logs: loss, accuracy and their val_ twins
            row = cast(EpochRow, {k: float(v) for k, v in (logs or {}).items()})
            row["seconds"] = time.perf_counter() - self.t0
            row["epoch"] = epoch_offset + epoch + 1
            row["phase"] = phase
            self.epochs.append(row)
            if progress is not None:
                progress(
                    {
                        "event": "epoch",
                        "phase": phase,
                        "epoch": row["epoch"],
                        "epochs": total_epochs,
                        "logs": row,
                    }
                )

    return EngineCallback()


# --------------------------------------------------------------------------- fitting


def _strategy_scope(distribute: str | None):
    """A context manager under which the model is built and compiled."""
    if not distribute:
        return contextlib.nullcontext()
    backend = backend_name()
    if backend == "tensorflow":
        import tensorflow as tf  # only the backend in use is imported

        if distribute == "mirrored":
            devices = None  # every GPU
            if not tf.config.list_logical_devices("GPU"):
                # No GPU: mirror over the logical CPUs (one unless the CPU was split on purpose)
                devices = [d.name for d in tf.config.list_logical_devices("CPU")]
            return tf.distribute.MirroredStrategy(devices=devices).scope()
        if distribute == "multiworker":  # reads TF_CONFIG
            return tf.distribute.MultiWorkerMirroredStrategy().scope()
    elif backend == "jax" and distribute in ("mirrored", "data-parallel", "multiworker"):
        if distribute == "multiworker" or os.environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES"):
            # several hosts: each runs the same command; Keras reads the coordinator's address,
            # the number of processes and this one's id from KERAS_DISTRIBUTION_* (README)
            keras.distribution.initialize()
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        return contextlib.nullcontext()
    raise FmnistError(f"--distribute {distribute} is not available on the {backend} backend")


# Images per compiled training call: several small batches run in one call of the compiled
# step, saving the per-call overhead that dominates small batches on a CPU. The updates are
# the same, batch by batch; callbacks see every STEP_GROUP_IMAGES images instead of every batch.
STEP_GROUP_IMAGES = 512


def steps_per_execution(batch_size: int) -> int:
    return max(1, STEP_GROUP_IMAGES // batch_size)


def training_loss(recipe: Recipe):
    """The loss a run trains with: cross-entropy on integer labels, label-smoothed when the
    recipe says so (Keras' sparse loss has no smoothing; this one takes the same labels)."""
    smoothing = float(recipe.label_smoothing)
    if not smoothing:
        return TRAINING_LOSS

    def smoothed_crossentropy(y_true, y_pred):
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        onehot = ops.one_hot(labels, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(onehot, y_pred, label_smoothing=smoothing)

    return smoothed_crossentropy


def training_loss_name(recipe: Recipe) -> str:
    """What manifests record as the loss actually used."""
    if recipe.label_smoothing:
        return f"categorical_crossentropy (label smoothing {recipe.label_smoothing:g})"
    return TRAINING_LOSS


def learning_rate(recipe: Recipe, total_steps: int | None, steps_per_epoch: int | None = None):
    """The recipe's rate: a number, or a cosine decay to 0 (after a linear warm-up of the
    recipe's epochs, or half the run if that is shorter)."""
    if recipe.schedule == "constant":
        return recipe.learning_rate
    if recipe.schedule != "cosine":
        raise FmnistError(f"unknown schedule {recipe.schedule!r} (constant or cosine)")
    if not total_steps:
        raise FmnistError("a cosine schedule needs the run's total number of steps")
    # a short run (a quick test, a one-epoch try) warms up for half of it at most
    warmup = min(recipe.warmup_epochs * (steps_per_epoch or 0), total_steps // 2)
    if not warmup:
        return keras.optimizers.schedules.CosineDecay(recipe.learning_rate, total_steps)
    return keras.optimizers.schedules.CosineDecay(
        0.0, total_steps - warmup, warmup_target=recipe.learning_rate, warmup_steps=warmup
    )


def compile_model(
    model,
    recipe: Recipe,
    *,
    group_steps: bool = True,
    total_steps: int | None = None,
    steps_per_epoch: int | None = None,
) -> None:
    rate = learning_rate(recipe, total_steps, steps_per_epoch)
    decay = recipe.weight_decay or None
    if recipe.optimizer == "sgd":
        opt = keras.optimizers.SGD(
            learning_rate=rate,
            momentum=recipe.momentum,
            nesterov=bool(decay and recipe.momentum),
            weight_decay=decay,
        )
    elif recipe.optimizer == "adam":
        opt = (keras.optimizers.AdamW(learning_rate=rate, weight_decay=decay) if decay
               else keras.optimizers.Adam(learning_rate=rate))  # fmt: skip
    else:
        raise FmnistError(f"unknown optimizer {recipe.optimizer!r}")
    if decay:  # decay shrinks weights; batch-norm scales and biases are not weights of that kind
        opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    model.compile(
        optimizer=opt,
        loss=training_loss(recipe),
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution(recipe.batch_size) if group_steps else 1,
    )


def fit(
    spec: ModelSpec,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray | None,
    y_val: np.ndarray | None,
    recipe: Recipe,
    *,
    seed: int = 0,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    distribute: str | None = None,
    build_overrides: dict[str, Any] | None = None,
    device: str | None = None,
    precision: str | None = None,
    initial_weights: list | None = None,
    checkpoint: EpochSaver | None = None,
    resume_from: Restored | None = None,
) -> TrainResult:
    """Build a `spec` model and train it by the recipe (plain phase, then augmented): from
    fresh weights, or from `initial_weights` (a trained model's, to fine-tune). `checkpoint`
    is called after every complete epoch; `resume_from` (a checkpoint's content) continues an
    interrupted run after its last complete epoch, with its optimiser state and history."""
    device = device or device_description()
    policy = _configure_precision(device, precision)
    done = len(resume_from.history) if resume_from else 0
    # a resumed run draws new random numbers (dropout, augmentation) for its new epochs
    keras.utils.set_random_seed(seed + done)
    steps = math.ceil(len(x_train) / recipe.batch_size)
    if resume_from is not None:
        initial_weights = resume_from.weights
    model = _compiled_model(spec, recipe, steps, distribute, build_overrides, initial_weights,
                            resume_from.optimizer if resume_from else None)  # fmt: skip
    val = _validation_batches(x_val, y_val, seed)
    history: list[EpochRow] = list(resume_from.history) if resume_from else []
    earlier = resume_from.seconds if resume_from else 0.0
    start = time.perf_counter()
    for index, (phase, epochs, augment) in enumerate(_phases(recipe)):
        first = 0  # this phase's epochs already done (a resumed run)
        if resume_from is not None:
            if index < resume_from.phase:
                continue
            if index == resume_from.phase:
                first = resume_from.phase_epoch
                if first >= epochs:
                    continue
        offset = len(history) - first
        # a resumed phase shuffles with a new seed: its epochs see new orders, not the first's
        batches = _training_batches(x_train, y_train, recipe, augment, seed=seed + len(history))
        cb = _callbacks(progress, should_stop, phase, offset, _total_epochs(recipe), steps)
        callbacks = [cb, *_early_stopping(recipe, val)]
        if checkpoint is not None:
            callbacks.append(
                _EpochCheckpoint(
                    checkpoint,
                    cb,
                    list(history),
                    index,
                    lambda: earlier + time.perf_counter() - start,
                )  # fmt: skip
            )
        _fit_phase(model, batches, val, epochs, callbacks, initial_epoch=first)
        history.extend(cb.epochs)
        if cb.cancelled:
            raise TrainingCancelled(f"training of {spec.name} was cancelled")
    return TrainResult(
        model=model,
        history=history,
        recipe=recipe,
        seconds=earlier + time.perf_counter() - start,
        device=device,
        backend=backend_name(),
        best_epoch=_best_epoch(history) if val is not None else None,
        replicas=_replicas(model),
        precision=policy,
    )


def _total_epochs(recipe: Recipe) -> int:
    return recipe.epochs + recipe.augment_epochs


def _compiled_model(
    spec: ModelSpec,
    recipe: Recipe,
    steps: int,
    distribute: str | None,
    build_overrides: dict[str, Any] | None,
    initial_weights: list | None,
    optimizer_state: list | None = None,
) -> Any:
    """A `spec` model built and compiled under the distribution strategy, with fresh weights
    or `initial_weights` (and `optimizer_state`, a resumed run's); `steps` batches make an
    epoch."""
    with _strategy_scope(distribute):
        model = spec.build(**(build_overrides or {}))
        if initial_weights is not None:
            _start_from(model, initial_weights, spec.name)
        # Keras' grouped steps fail under tf.distribute (an iterator placeholder error on
        # mirrored CPUs): distributed runs take one batch per call.
        compile_model(
            model,
            recipe,
            group_steps=not distribute,
            total_steps=_total_epochs(recipe) * steps,
            steps_per_epoch=steps,
        )
        if optimizer_state is not None:
            _restore_optimizer(model, optimizer_state, spec.name)
    return model


def _restore_optimizer(model: Any, state: list, name: str) -> None:
    """A resumed run's optimiser variables (its step count, moments, loss scale)."""
    model.optimizer.build(model.trainable_variables)
    variables = model.optimizer.variables
    if len(variables) != len(state) or any(
        tuple(v.shape) != tuple(a.shape) for v, a in zip(variables, state)
    ):
        raise FmnistError(f"the checkpoint's optimiser state does not fit {name}: train it again")
    for v, a in zip(variables, state):
        v.assign(a)


def _validation_batches(x_val: np.ndarray | None, y_val: np.ndarray | None, seed: int) -> Any:
    """The validation images in batches, in order; None without any."""
    if x_val is None or y_val is None or len(x_val) == 0:
        return None
    return make_dataset(x_val, y_val, 1024, shuffle=False, seed=seed)


def _training_batches(
    x: np.ndarray, y: np.ndarray, recipe: Recipe, augment: bool, *, seed: int
) -> Any:
    """A phase's shuffled training batches, augmented as the recipe says in the augmented
    phase."""
    return make_dataset(
        x,
        y,
        recipe.batch_size,
        shuffle=True,
        seed=seed,
        augment=recipe.augmentation if augment else False,
        photo_share=recipe.photo_share,
    )


def _phases(recipe: Recipe) -> list[tuple[TrainPhase, int, bool]]:
    """(phase, epochs, augmented) for each phase the recipe gives epochs: plain, then augmented."""
    phases: list[tuple[TrainPhase, int, bool]] = [
        ("plain", recipe.epochs, False),
        ("augment", recipe.augment_epochs, True),
    ]
    return [p for p in phases if p[1] > 0]


def _early_stopping(recipe: Recipe, val: Any) -> list[keras.callbacks.Callback]:
    """Early stopping on the validation loss, back to the best epoch's weights, when the
    recipe asks for it and there is validation data."""
    if not (recipe.early_stopping and val is not None):
        return []
    return [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=recipe.early_stopping, restore_best_weights=True
        )
    ]


def _fit_phase(
    model: Any, batches: Any, val: Any, epochs: int, callbacks: list, initial_epoch: int = 0
) -> None:
    with warnings.catch_warnings():  # Keras warns that a tf.data input ignores shuffle=True
        warnings.filterwarnings("ignore", message=".*shuffle=True.*")
        model.fit(batches, validation_data=val, epochs=epochs, verbose=0, callbacks=callbacks,
                  initial_epoch=initial_epoch)  # fmt: skip


class _EpochCheckpoint(keras.callbacks.Callback):
    """After every complete epoch (not one cut short by a cancel): the run's checkpoint."""

    def __init__(self, save: EpochSaver, engine_cb: Any, before: list[EpochRow], phase: int,
                 seconds: Callable[[], float]):  # fmt: skip
        super().__init__()
        self.save, self.engine_cb, self.before = save, engine_cb, before
        self.phase, self.seconds = phase, seconds

    def on_epoch_end(self, epoch, logs=None):
        if self.engine_cb.cancelled:
            return
        history = [*self.before, *self.engine_cb.epochs]
        self.save(self.model, history, self.phase, epoch + 1, self.seconds())


def _best_epoch(history: list[EpochRow]) -> int | None:
    """The epoch with the lowest validation loss."""
    if not history:
        return None
    best = min(range(len(history)), key=lambda i: history[i].get("val_loss", math.inf))
    return history[best]["epoch"]


def _start_from(model, weights: list, name: str) -> None:
    """Set a trained model's weights; FmnistError if they do not fit this architecture."""
    own = model.get_weights()
    if len(own) != len(weights) or any(a.shape != b.shape for a, b in zip(own, weights)):
        raise FmnistError(
            f"the starting weights do not fit {name}'s layers (a different architecture or "
            "widths): train it from the same build options"
        )
    model.set_weights(weights)


def _replicas(model) -> int:
    """How many devices trained the model in sync (1 without --distribute)."""
    strategy = getattr(model, "distribute_strategy", None)  # TensorFlow backend only
    return int(getattr(strategy, "num_replicas_in_sync", 1))


def kfold_indices(labels: np.ndarray, k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, shuffled, disjoint folds: [(train_idx, val_idx)] * k."""
    if k < 2:
        raise FmnistError(f"k-fold needs k >= 2, got {k}")
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        fold_of[members] = np.arange(len(members)) % k
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]


def cross_validate(
    spec: ModelSpec,
    x: np.ndarray,
    y: np.ndarray,
    recipe: Recipe,
    k: int = 5,
    *,
    seed: int = 0,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    build_overrides: dict[str, Any] | None = None,
) -> KFoldResult:
    """k fresh models, each validated on its own fold; mean and std of fold accuracy."""
    folds: list[FoldResult] = []
    for i, (tr, va) in enumerate(kfold_indices(y, k, seed)):

        def fold_progress(event: ProgressEvent, i: int = i) -> None:
            if progress is not None:
                progress({**event, "fold": i + 1, "folds": k})

        result = fit(
            spec,
            x[tr],
            y[tr],
            x[va],
            y[va],
            replace(recipe, early_stopping=0),
            seed=seed + i,
            progress=fold_progress,
            should_stop=should_stop,
            build_overrides=build_overrides,
        )
        last = result.history[-1]
        folds.append({
            "fold": i + 1, "val_accuracy": last["val_accuracy"], "val_loss": last["val_loss"],
            "n_train": int(len(tr)), "n_val": int(len(va)), "history": result.history,
            "seconds": result.seconds,
        })  # fmt: skip
    accs = np.array([f["val_accuracy"] for f in folds])
    return {
        "k": k,
        "seed": seed,
        "mean": float(accs.mean()),
        "std": float(accs.std()),
        "folds": folds,
    }
