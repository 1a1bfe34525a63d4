"""Trained models on disk: one artifact folder per version, which version a name means, the
catalog of every model.

- `artifact.py`: one artifact folder (`model.keras`, test probabilities, `manifest.json`):
  atomic save, verified load. It knows nothing of versions.
- `history.py`: a model's versions (the shipped one and each run), the one in use, `MODEL@VERSION`
  names, activating and deleting.
- `catalog.py`: one row per registry model with its status and versions (`list`, Models page).

Code outside this package imports from here: `from fmnist_core.versions import find_artifact`.
"""

from fmnist_core.versions.artifact import (
    MANIFEST_FILE,
    MODEL_FILE,
    PROBS_FILE,
    SAFE_NAME,
    Artifact,
    ArtifactError,
    file_sha256,
    float32_copy,
    load_artifact,
    read_manifest,
    save_artifact,
    shipped_models_dir,
    user_models_dir,
)
from fmnist_core.versions.history import (
    ACTIVE_FILE,
    SHIPPED,
    Version,
    VersionError,
    activate,
    active_artifact,
    artifact_status,
    available_artifacts,
    chosen_version,
    delete_version,
    find_artifact,
    get_version,
    is_own,
    list_versions,
    migrate_legacy,
    new_version_id,
    recipe_changes,
    save_version,
    split_ref,
    started_by,
    state_signature,
    trained_artifact,
    user_version_ids,
    version_label,
    versions_dir,
)

__all__ = [
    "ACTIVE_FILE",
    "MANIFEST_FILE",
    "MODEL_FILE",
    "PROBS_FILE",
    "SAFE_NAME",
    "SHIPPED",
    "Artifact",
    "ArtifactError",
    "Version",
    "VersionError",
    "activate",
    "active_artifact",
    "artifact_status",
    "available_artifacts",
    "chosen_version",
    "delete_version",
    "file_sha256",
    "find_artifact",
    "float32_copy",
    "get_version",
    "is_own",
    "list_versions",
    "load_artifact",
    "migrate_legacy",
    "new_version_id",
    "read_manifest",
    "recipe_changes",
    "save_artifact",
    "save_version",
    "shipped_models_dir",
    "split_ref",
    "started_by",
    "state_signature",
    "trained_artifact",
    "user_models_dir",
    "user_version_ids",
    "version_label",
    "versions_dir",
]
