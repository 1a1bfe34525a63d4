"""Where the project keeps its files: the user cache and the shipped assets."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_ROOT / "assets"


def cache_dir() -> Path:
    """The user cache folder: FMNIST_CACHE_DIR, else XDG_CACHE_HOME or ~/.cache, /fmnist-explorer."""
    override = os.environ.get("FMNIST_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fmnist-explorer"
