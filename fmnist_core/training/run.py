"""One training run from data to saved artifact: the single path behind the CLI and the app."""

from __future__ import annotations

import datetime as dt
import inspect
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, cast, get_args

import numpy as np

from fmnist_core.analysis.calibration import calibrate
from fmnist_core.analysis.evaluate import evaluate_probabilities, predict_probabilities
from fmnist_core.contracts import (
    Augmentation,
    InitialisedFrom,
    KFoldResult,
    Manifest,
    Precision,
    ProgressEvent,
    ProgressFn,
    Scores,
    Via,
    model_sha256,
)
from fmnist_core.data.fashion_mnist import (
    Dataset,
    load_dataset,
    stratified_split,
    stratified_subset,
)
from fmnist_core.errors import FmnistError
from fmnist_core.models import ModelSpec, Recipe, get_spec, list_models
from fmnist_core.training.checkpoint import Checkpointer, Restored, newest_interrupted
from fmnist_core.training.engine import (
    PRECISIONS,
    EpochSaver,
    TrainingCancelled,
    TrainResult,
    backend_name,
    cross_validate,
    device_description,
    fit,
    training_loss_name,
)
from fmnist_core.training.ensemble import assemble, held_out_from, member_artifacts
from fmnist_core.versions import (
    Artifact,
    float32_copy,
    recipe_changes,
    save_artifact,
    save_version,
)

# A model this many points (or more) below its tutorial's figure gets an explanation.
ACCURACY_TOLERANCE = 0.015


@dataclass
class TrainOptions:
    """Overrides of the registry recipe; None keeps the recipe's value."""

    epochs: int | None = None
    augment_epochs: int | None = None
    augmentation: Augmentation | None = None  # what the augmented epochs vary
    batch_size: int | None = None
    kfold: int | None = None
    seed: int = 0
    limit: int | None = None  # a stratified subset of the training set, for quick runs
    distribute: str | None = None
    # dtype policy: None = mixed float16 on a GPU, float32 on a CPU; or "mixed_bfloat16" ...
    precision: Precision | None = None
    weights: str | None = None  # VGG19: a local weights file instead of Keras' ImageNet download
    image_size: int | None = None  # VGG19 input size
    widths: list[int] | None = None  # resnet: filters of its three stages (default 32-64-128)
    note: str = ""  # why the run departs from the recipe, kept in the manifest
    # who started the run (kept in the manifest; the app lets people delete their own runs)
    started_by: str = ""
    via: Via = "cli"
    session: str = ""  # the app's browser session that started it

    def validate(self) -> None:
        """TrainOptionsError with one sentence a person can act on."""
        if self.epochs is not None and self.epochs < 0 or (self.augment_epochs or 0) < 0:
            raise TrainOptionsError("Epochs cannot be negative.")
        if self.epochs == 0 and self.augment_epochs == 0:
            raise TrainOptionsError("Train for at least one epoch, plain or augmented.")
        if self.kfold == 1 or (self.kfold or 0) < 0:
            raise TrainOptionsError("k-fold needs at least 2 folds (or 0 for none).")
        if self.batch_size is not None and self.batch_size < 1:
            raise TrainOptionsError("The batch size must be at least 1.")
        if self.limit is not None and not 100 <= self.limit <= 60_000:
            raise TrainOptionsError("Train on between 100 and 60,000 images.")
        if self.augmentation is not None and self.augmentation not in get_args(Augmentation):
            raise TrainOptionsError(
                f"unknown augmentation {self.augmentation!r} ({', '.join(get_args(Augmentation))})"
            )
        if self.precision is not None and self.precision not in PRECISIONS:
            raise TrainOptionsError(
                f"unknown precision {self.precision!r} ({', '.join(PRECISIONS)})"
            )
        if self.widths is not None and (
            len(self.widths) != 3 or any(int(w) < 1 or int(w) > 1024 for w in self.widths)
        ):
            raise TrainOptionsError("Give three stage widths between 1 and 1024, e.g. 64,128,256.")
        if self.via not in ("cli", "app"):
            raise TrainOptionsError(f"unknown origin {self.via!r} (cli or app)")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainOptions:
        """Rebuilt from JSON (a background job's request): unknown keys are refused, not
        dropped, so a misspelt setting never trains with the recipe's value silently."""
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise TrainOptionsError(f"unknown training settings: {', '.join(unknown)}")
        opts = cls(**data)
        opts.validate()
        return opts


class TrainOptionsError(FmnistError):
    """Training settings that cannot work."""


def library_versions() -> dict[str, str]:
    import keras  # loads TensorFlow: only when a model is built, run or saved

    versions = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "numpy": np.__version__,
    }
    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf  # only the backend in use is imported

            versions["tensorflow"] = tf.__version__
        elif backend == "jax":
            import jax  # only the backend in use is imported

            versions["jax"] = jax.__version__
        elif backend == "torch":
            import torch  # only the backend in use is imported

            versions["torch"] = torch.__version__
    except ImportError:
        pass
    return versions


def run_training(
    name: str,
    options: TrainOptions | None = None,
    *,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    root: Path | None = None,
    data_source: str | None = None,
) -> Artifact:
    """Load data, train by the recipe (with overrides), evaluate on the test set, save: as a
    new version of the model in the user cache (never the active one by itself), or as
    `root/<name>/` when `root` is given (how the shipped models are made)."""
    opts = options or TrainOptions()
    opts.validate()
    plan = _plan(name, opts)
    ds = load_dataset(data_source)
    data = _training_data(ds, plan.recipe, opts)
    start_from: list[Any] | None = None
    extra: Manifest = {}
    if plan.recipe.init_from:
        start_from, extra["initialised_from"] = _starting_point(name, plan.recipe, opts, root)
    progress = _with_fraction(progress, plan.recipe.kfold)
    kfold = _kfold_estimate(plan, data, opts, progress=progress, should_stop=should_stop)
    if plan.spec.assembled:
        result, extra = _assemble(
            plan.spec, plan.recipe, opts, data.x_val, data.y_val, root=root, progress=progress
        )
        return _finish(name, plan, opts, ds, data, result, kfold, extra, root, progress)
    ckpt = _checkpointer(name, plan, opts, root, data_source, extra)
    try:
        result = _fit_final(
            plan, data, opts, start_from, progress=progress, should_stop=should_stop,
            checkpoint=ckpt.save if ckpt else None,
        )  # fmt: skip
        art = _finish(name, plan, opts, ds, data, result, kfold, extra, root, progress)
    except TrainingCancelled:
        if ckpt is not None:  # a cancelled run is not resumed: nothing is kept
            ckpt.delete()
        raise
    if ckpt is not None:
        ckpt.delete()
    return art


def resume_training(
    name: str,
    *,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Artifact:
    """Continue the newest interrupted run of `name` after its last complete epoch, with the
    settings it started with; saved as it would have been (a version, or `root/<name>/`),
    its manifest saying where it was resumed. NothingToResume (one line) if there is none."""
    found = newest_interrupted(name)
    run = found.run
    opts = TrainOptions.from_dict(run["options"])
    plan = _plan(name, opts)
    ds = load_dataset(run.get("data_source"))
    data = _training_data(ds, plan.recipe, opts)
    ckpt = Checkpointer.resume(found)
    restored = ckpt.restore()
    extra = cast(Manifest, {**run.get("extra", {}), "resumed": ckpt.resumed})
    root = Path(run["root"]) if run.get("root") else None
    progress = _with_fraction(progress, 0)
    try:
        result = _fit_final(
            plan, data, opts, None, progress=progress, should_stop=should_stop,
            checkpoint=ckpt.save, resume_from=restored,
        )  # fmt: skip
        art = _finish(name, plan, opts, ds, data, result, None, extra, root, progress)
    except TrainingCancelled:
        ckpt.delete()
        raise
    ckpt.delete()
    return art


def _checkpointer(
    name: str, plan: _Plan, opts: TrainOptions, root: Path | None, data_source: str | None,
    extra: Manifest,
) -> Checkpointer | None:  # fmt: skip
    """A run's checkpoints (every epoch), so that it can be resumed; None for k-fold runs
    (refused by --resume)."""
    if plan.recipe.kfold:
        return None
    return Checkpointer.start(name, {
        "options": asdict(opts), "root": str(root) if root is not None else None,
        "data_source": data_source, "extra": extra, "seed": opts.seed,
        "epochs": plan.recipe.epochs + plan.recipe.augment_epochs,
    })  # fmt: skip


def _finish(
    name: str, plan: _Plan, opts: TrainOptions, ds: Dataset, data: _TrainingData,
    result: TrainResult, kfold: KFoldResult | None, extra: Manifest, root: Path | None,
    progress: ProgressFn | None,
) -> Artifact:  # fmt: skip
    """Evaluate the trained model on the test set, calibrate, save."""
    _to_float32(result)
    probs, scores = _evaluate(result, ds, progress)
    manifest = _manifest(
        name, plan, opts, ds, data, result, kfold=kfold, extra=extra, scores=scores
    )
    manifest["calibration"] = calibrate(result.model, manifest, ds, probs)
    _compare_with_tutorial(manifest, plan.spec, opts)
    return _save(name, result.model, manifest, probs, root=root, progress=progress)


@dataclass
class _Plan:
    """What a run trains: the model's spec, its recipe with the run's overrides, the builder's
    options."""

    spec: ModelSpec
    recipe: Recipe
    overrides: dict[str, Any]  # the recipe settings the run changed (kept in the manifest)
    build: dict[str, Any]  # builder options: VGG19's weights and input size, a ResNet's widths


def _plan(name: str, opts: TrainOptions) -> _Plan:
    """The registry recipe with the run's overrides; TrainOptionsError for a builder option
    that the model does not take."""
    spec = get_spec(name)
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "epochs": opts.epochs,
            "augment_epochs": opts.augment_epochs,
            "augmentation": opts.augmentation,
            "batch_size": opts.batch_size,
            "kfold": opts.kfold,
        }.items()
        if v is not None
    }
    recipe = replace(spec.recipe, **overrides)
    build = {
        k: v
        for k, v in {
            "weights": opts.weights,
            "image_size": opts.image_size,
            "widths": tuple(opts.widths) if opts.widths else None,
        }.items()
        if v
    }
    accepted = inspect.signature(spec.builder).parameters
    for key in build:
        if key not in accepted:
            flag = "--" + key.replace("_", "-")
            raise TrainOptionsError(f"{flag} does not apply to {name}.")
    return _Plan(spec, recipe, overrides, build)


@dataclass
class _TrainingData:
    """The images a run learns from: the pool (the training set, or a stratified subset of it)
    and its training and validation parts."""

    x_pool: np.ndarray
    y_pool: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def _training_data(ds: Dataset, recipe: Recipe, opts: TrainOptions) -> _TrainingData:
    """The pool (`opts.limit` images, stratified, when given), split as the recipe says."""
    x_pool, y_pool = ds.x_train, ds.y_train
    if opts.limit:
        keep = stratified_subset(y_pool, opts.limit, opts.seed)
        x_pool, y_pool = x_pool[keep], y_pool[keep]
    if recipe.validation == "split":
        tr, va = stratified_split(y_pool, 0.2, recipe.split_seed)
        return _TrainingData(x_pool, y_pool, x_pool[tr], y_pool[tr], x_pool[va], y_pool[va])
    # the tutorial trained on everything and watched the test set
    return _TrainingData(x_pool, y_pool, x_pool, y_pool, ds.x_test, ds.y_test)


def _kfold_estimate(
    plan: _Plan,
    data: _TrainingData,
    opts: TrainOptions,
    *,
    progress: ProgressFn | None,
    should_stop: Callable[[], bool] | None,
) -> KFoldResult | None:
    """The recipe's k-fold cross-validation on the whole pool; None when it asks for none."""
    if not plan.recipe.kfold:
        return None
    return cross_validate(
        plan.spec,
        data.x_pool,
        data.y_pool,
        plan.recipe,
        plan.recipe.kfold,
        seed=opts.seed,
        progress=progress,
        should_stop=should_stop,
        build_overrides=plan.build,
    )


def _fit_final(
    plan: _Plan,
    data: _TrainingData,
    opts: TrainOptions,
    start_from: list[Any] | None,
    *,
    progress: ProgressFn | None,
    should_stop: Callable[[], bool] | None,
    checkpoint: EpochSaver | None = None,
    resume_from: Restored | None = None,
) -> TrainResult:
    """The model that is kept: fitted on the training part, validated on the validation part."""
    return fit(
        plan.spec,
        data.x_train,
        data.y_train,
        data.x_val,
        data.y_val,
        plan.recipe,
        seed=opts.seed,
        progress=progress,
        should_stop=should_stop,
        distribute=opts.distribute,
        build_overrides=plan.build,
        precision=opts.precision,
        initial_weights=start_from,
        checkpoint=checkpoint,
        resume_from=resume_from,
    )


def _to_float32(result: TrainResult) -> None:
    """A model trained in mixed precision becomes the float32 copy that ships, so that the
    evaluation scores the model that is saved, not the run's."""
    if result.precision != "float32":
        import keras  # loads TensorFlow: only when a model is built, run or saved

        keras.mixed_precision.set_global_policy("float32")
        result.model = float32_copy(result.model)


def _evaluate(
    result: TrainResult, ds: Dataset, progress: ProgressFn | None
) -> tuple[np.ndarray, Scores]:
    """The test set's probabilities as stored (float16) and the scores on them, so that the
    manifest and every page count the same predictions."""
    if progress is not None:
        progress({"event": "evaluate"})
    probs = predict_probabilities(result.model, ds.x_test).astype(np.float16)
    return probs, evaluate_probabilities(probs, ds.y_test)


def _manifest(
    name: str,
    plan: _Plan,
    opts: TrainOptions,
    ds: Dataset,
    data: _TrainingData,
    result: TrainResult,
    *,
    kfold: KFoldResult | None,
    extra: Manifest,
    scores: Scores,
) -> Manifest:
    """What the run was and what it scored; calibration and the comparison with the tutorial
    are added after."""
    spec, recipe = plan.spec, plan.recipe
    return {
        "name": name,
        "description": spec.description,
        "tutorial": spec.tutorial,
        "reported_accuracy": spec.reported_accuracy,
        "reported_note": spec.reported_note,
        "recipe": recipe.as_dict(),
        # what was used (the recipe keeps the tutorial's)
        "training_loss": training_loss_name(recipe),
        "recipe_overrides": plan.overrides,
        "build_options": {**spec.build_options, **{k: str(v) for k, v in plan.build.items()}},
        "seed": opts.seed,
        "limit": opts.limit,
        "n_train": int(len(data.x_train)),
        "n_val": int(len(data.x_val)),
        "validation": recipe.validation,
        "dataset_checksum": ds.checksum,
        "dataset_is_original": ds.is_original,
        "library_versions": library_versions(),
        "backend": result.backend,
        "device": result.device,
        "distribute": opts.distribute,
        "replicas": result.replicas,
        "precision": result.precision,
        "training_seconds": round(result.seconds, 2),
        "params": int(result.model.count_params()),
        "history": result.history,
        "best_epoch": result.best_epoch,
        "kfold": kfold,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "note": opts.note,
        "started_by": {"name": opts.started_by, "via": opts.via, "session": opts.session},
        **extra,
        **scores,
    }


def _compare_with_tutorial(manifest: Manifest, spec: ModelSpec, opts: TrainOptions) -> None:
    """The test accuracy's gap to the tutorial's figure; more than ACCURACY_TOLERANCE below it,
    a run without a note of its own gets one that names how it departed from the recipe."""
    if spec.reported_accuracy is None:
        return
    gap = manifest["test_accuracy"] - spec.reported_accuracy
    manifest["accuracy_vs_reported"] = round(gap, 5)
    if gap < -ACCURACY_TOLERANCE and not opts.note:
        manifest["note"] = (
            "below the tutorial's figure by more than 1.5 points: the run departed from the "
            f"recipe ({recipe_changes(manifest)})"
        )


def _save(
    name: str,
    model: Any,
    manifest: Manifest,
    probs: np.ndarray,
    *,
    root: Path | None,
    progress: ProgressFn | None,
) -> Artifact:
    """A new version in the user cache, or `root/<name>/` when `root` is given."""
    if progress is not None:
        progress({"event": "save"})
    if root is None:
        return save_version(name, model, manifest, probs)
    return save_artifact(name, model, manifest, probs, root=root)


def _starting_point(
    name: str, recipe, opts: TrainOptions, root: Path | None
) -> tuple[list[Any], InitialisedFrom]:
    """A fine-tuned model's starting weights: the trained `recipe.init_from` model in `root`
    (how the shipped models are made), else its active version; and what the manifest keeps
    of it. It must have held out this run's validation split, or the validation figures (and
    the calibration fitted on them) would not be held out."""
    if recipe.kfold:
        raise TrainOptionsError(
            f"{name} fine-tunes {recipe.init_from}'s trained weights; k-fold runs start "
            "from fresh ones: train it without k-fold."
        )
    source = recipe.init_from
    art = member_artifacts([source], root).get(source)
    if art is None:
        where = f" into {root}" if root is not None else ""
        raise TrainOptionsError(
            f"{name} starts from {source}'s trained weights: train {source}{where} first."
        )
    why = held_out_from(art.manifest, split_seed=recipe.split_seed, limit=opts.limit,
                        seed=opts.seed)  # fmt: skip
    if why:
        raise TrainOptionsError(
            f"{name} starts from {source}'s trained weights, but that {source} was {why}; "
            f"train {source} with the same limit and seed first."
        )
    weights = art.load_model().get_weights()
    return weights, {
        "name": source,
        "version": art.version or art.origin,
        "sha256": model_sha256(art.manifest),
        "test_accuracy": art.manifest.get("test_accuracy"),
    }


def _assemble(
    spec, recipe, opts: TrainOptions, x_va, y_va, *, root, progress
) -> tuple[TrainResult, Manifest]:
    """The ensemble's "training": choose its members on the validation split, average them."""
    if recipe.validation != "split":
        raise TrainOptionsError("an ensemble's members are chosen on the validation split")
    candidates = [
        n for n in list_models()
        if not get_spec(n).assembled and not get_spec(n).needs_pretrained_weights
    ]  # fmt: skip
    model, selection, seconds = assemble(
        candidates, x_va, y_va, root=root, split_seed=recipe.split_seed, limit=opts.limit,
        seed=opts.seed, progress=progress,
    )  # fmt: skip
    result = TrainResult(
        model=model, history=[], recipe=recipe, seconds=seconds, device=device_description(),
        backend=backend_name(),
    )  # fmt: skip
    extra: Manifest = {
        "training_loss": None,  # nothing was fitted
        "members": selection.members,
        "member_weights": selection.weights,
        "member_sources": selection.sources,
        "member_selection": {
            "val_accuracy": selection.val_accuracy,
            "val_loss": selection.val_loss,
            "candidates": selection.candidates,
            "not_candidates": selection.skipped,
            "steps": selection.ranking,
        },
    }
    return result, extra


def _with_fraction(progress: ProgressFn | None, folds: int) -> ProgressFn | None:
    """Batch events gain `fraction`, the share of the whole run done: with k folds, the k
    fold fits and the final fit are k + 1 equal parts."""
    if progress is None:
        return None

    def report(event: ProgressEvent) -> None:
        if event["event"] == "batch":
            done = (event["epoch"] - 1 + event["batch"] / event["batches"]) / event["epochs"]
            if folds:
                part = event["fold"] - 1 if event.get("fold") else folds  # the final fit last
                done = (part + done) / (folds + 1)
            event = {**event, "fraction": done}
        progress(event)

    return report
