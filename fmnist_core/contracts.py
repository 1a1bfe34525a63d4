"""The types that cross module boundaries: a model's manifest, a training progress event, and
the fixed choices (origins, statuses, methods) as Literals.

Plain data only: this module imports nothing from the package, so every layer may use it.

- `Manifest`: what `manifest.json` holds (training/run.py writes it, versions/artifact.py adds
  the file checksums); the look-ups that every reader needs (`model_file`, `model_size`,
  `model_megabytes`, `model_sha256`, `recipe_split_seed`, `starter`) live here, once.
- `ProgressEvent` / `ProgressFn`: the one callback every long computation reports through:
  training (batches, epochs, evaluating, saving), choosing the ensemble's members, and the
  other long jobs (embeddings, suspect labels) as `step` events with a fraction and words.
"""

# No `from __future__ import annotations`: evaluated annotations keep Required[...] visible
# at run time (ProgressEvent.__required_keys__), which tests/versions/test_manifest.py reads.
from collections.abc import Callable
from typing import Any, Literal, Required, TypedDict

# --------------------------------------------------------------------------- fixed choices

Origin = Literal["user", "shipped"]  # where an artifact lives: the user cache or assets/
ArtifactStatus = Literal["trained", "shipped", "missing", "corrupt"]  # versions.artifact_status
Via = Literal["cli", "app"]  # how a training run was started
JobState = Literal["starting", "running", "finished", "cancelled", "failed"]  # a background job
Validation = Literal["split", "test"]  # what a recipe validates on (models.Recipe.validation)
Optimizer = Literal["adam", "sgd"]
Schedule = Literal["constant", "cosine"]  # the learning rate over a run
Augmentation = Literal[
    "affine", "styles", "clipart", "shapes", "crops"
]  # what a recipe's augmented phase does
# the augmentations that draw training images in the styles of users' pictures (PictureStyles):
# a model trained with one reads drawings (as drawn and filled) and mirror images
PICTURE_STYLE_AUGMENTATIONS = ("styles", "clipart", "shapes")
Precision = Literal["float32", "mixed_float16", "mixed_bfloat16"]  # Keras dtype policies
TrainPhase = Literal["plain", "augment", "choose"]  # "choose": the ensemble's member choice
EmbeddingMethod = Literal["pca", "tsne", "umap", "custom"]
AttributionMethod = Literal["gradient_x_input", "integrated_gradients", "gradcam"]


# --------------------------------------------------------------------------- the manifest

MODEL_FILE = "model.keras"  # (versions.MODEL_FILE: the same name, for the look-ups below)


class FileEntry(TypedDict):
    """One file of an artifact folder, as the manifest lists it."""

    size: int
    sha256: str


class EpochRow(TypedDict, total=False):
    """One epoch of a run's history (Keras' logs, timed and labelled by the engine); a batch
    event's `logs` carry the running loss and accuracy only."""

    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    epoch: int
    phase: TrainPhase


class FoldResult(TypedDict):
    fold: int
    val_accuracy: float
    val_loss: float
    n_train: int
    n_val: int
    history: list[EpochRow]
    seconds: float


class KFoldResult(TypedDict):
    """The tutorial's k-fold evaluation (engine.cross_validate)."""

    k: int
    seed: int
    mean: float
    std: float
    folds: list[FoldResult]


class Calibration(TypedDict):
    """The fitted temperature and the test set's ECE before and after it
    (analysis.calibration)."""

    temperature: float
    fitted_on: str
    ece: float
    ece_scaled: float
    bins: int


class StartedBy(TypedDict):
    """Who started a run: the app lets people delete their own runs (the same `session`)."""

    name: str
    via: Via
    session: str


class InitialisedFrom(TypedDict):
    """The trained model a fine-tuned run started from."""

    name: str
    version: str
    sha256: str | None
    test_accuracy: float | None


class MemberSource(TypedDict):
    """An ensemble member's version and model file checksum."""

    version: str
    sha256: str | None


class SelectionStep(TypedDict):
    added: str
    val_accuracy: float
    val_loss: float


class MemberSelection(TypedDict):
    val_accuracy: float
    val_loss: float
    candidates: list[str]
    not_candidates: dict[str, str]  # model -> why it could not be a member
    steps: list[SelectionStep]


class Scores(TypedDict):
    """The test-set scores a manifest carries (analysis.evaluate_probabilities)."""

    test_accuracy: float
    test_loss: float
    per_class: dict[str, dict[str, float]]  # class name -> precision, recall, f1, support
    confusion_matrix: list[list[int]]


class Manifest(TypedDict, total=False):
    """`manifest.json` of a model artifact. Every key is optional to the type: manifests
    from before a key existed lack it, a run's manifest is built in steps, and an unreadable
    version reads as {}. `read_manifest` guarantees `files` (with the model and the test
    probabilities); what training/run.py writes is in the test tests/versions/test_manifest.py."""

    # the model, from the registry
    name: str
    description: str
    tutorial: str
    reported_accuracy: float | None
    reported_note: str
    recipe: dict[str, Any]  # models.Recipe.as_dict(): the recipe as run
    training_loss: str | None  # None: nothing was fitted (the ensemble)
    recipe_overrides: dict[str, int]
    build_options: dict[str, Any]
    # the run
    seed: int
    limit: int | None  # a stratified subset of the training set
    n_train: int
    n_val: int
    validation: Validation
    dataset_checksum: str
    dataset_is_original: bool
    library_versions: dict[str, str]
    backend: str
    device: str
    distribute: str | None
    replicas: int
    precision: Precision
    training_seconds: float
    params: int
    history: list[EpochRow]
    best_epoch: int | None
    kfold: KFoldResult | None
    created_utc: str
    note: str
    started_by: StartedBy
    initialised_from: InitialisedFrom
    # an interrupted run continued from its checkpoint (training/checkpoint.py): each
    # {"at_epoch": the last complete epoch, "utc": when it was resumed}
    resumed: list[dict[str, Any]]
    # the ensemble
    members: list[str]
    member_weights: dict[str, float]
    member_sources: dict[str, MemberSource]
    member_selection: MemberSelection
    # the scores (Scores) and calibration
    test_accuracy: float
    test_loss: float
    per_class: dict[str, dict[str, float]]
    confusion_matrix: list[list[int]]
    accuracy_vs_reported: float
    calibration: Calibration
    # the artifact (versions)
    version_id: str
    manifest_version: int
    files: dict[str, FileEntry]


def model_file(manifest: Manifest) -> FileEntry | None:
    """The model file's entry (size, sha256); None if the manifest lists none."""
    return (manifest.get("files") or {}).get(MODEL_FILE)


def model_size(manifest: Manifest) -> int | None:
    """The model file's size in bytes, as listed."""
    entry = model_file(manifest)
    return entry.get("size") if entry else None


def model_megabytes(manifest: Manifest) -> float:
    """The model file's size in MB (10^6 bytes); 0.0 when the manifest lists none."""
    return (model_size(manifest) or 0) / 1e6


def model_sha256(manifest: Manifest) -> str | None:
    """The model file's SHA-256, as listed."""
    entry = model_file(manifest)
    return entry.get("sha256") if entry else None


def recipe_split_seed(manifest: Manifest) -> int | None:
    """The seed of the validation split the run held out (its recipe's)."""
    return (manifest.get("recipe") or {}).get("split_seed")


def starter(manifest: Manifest) -> StartedBy | None:
    """Who started the run; None for shipped models and runs from before it was kept."""
    who = manifest.get("started_by")
    return who if isinstance(who, dict) else None


# --------------------------------------------------------------------------- progress

ProgressKind = Literal["batch", "epoch", "evaluate", "save", "step"]


class ProgressEvent(TypedDict, total=False):
    """What a long computation reports.

    - "batch": a training batch done: phase, epoch of epochs, batch of batches, the running
      logs; fold of folds during k-fold; `fraction` of the whole run (run.run_training adds it).
    - "epoch": an epoch done: phase, epoch of epochs, its history row as `logs` (fold, folds).
    - "evaluate", "save": a run's last two steps.
    - "step": any other long job (an embedding, suspect labels): `fraction` done and `message`.
    """

    event: Required[ProgressKind]
    phase: TrainPhase
    epoch: int
    epochs: int
    batch: int
    batches: int
    fold: int
    folds: int
    fraction: float
    message: str
    logs: EpochRow


ProgressFn = Callable[[ProgressEvent], None]


def step(fraction: float, message: str) -> ProgressEvent:
    """A "step" event: `fraction` of the job done (0 to 1) and what it is doing."""
    return {"event": "step", "fraction": fraction, "message": message}
