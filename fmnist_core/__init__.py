"""Fashion-MNIST CNN explorer: data, models, training, evaluation and embeddings."""

import os

# TensorFlow's start-up chatter (CUDA probing, oneDNN notes) helps nobody using this package.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fmnist_core.classes import CLASS_NAMES, NUM_CLASSES  # noqa: E402
from fmnist_core.errors import DatasetError, FmnistError  # noqa: E402

__all__ = ["CLASS_NAMES", "NUM_CLASSES", "DatasetError", "FmnistError"]
__version__ = "0.1.0"
