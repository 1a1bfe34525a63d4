"""Fashion-MNIST CNN explorer: data, models, training, evaluation and embeddings."""

from fmnist_core.classes import CLASS_NAMES, NUM_CLASSES
from fmnist_core.errors import DatasetError, FmnistError

__all__ = ["CLASS_NAMES", "NUM_CLASSES", "DatasetError", "FmnistError"]
__version__ = "0.1.0"
