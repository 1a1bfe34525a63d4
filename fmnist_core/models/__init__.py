"""Every model the app knows, in one registry (timm's pattern): `list_models()`, `get_spec(name)`,
`create_model(name)`.

- `registry.py`: `Recipe` (how a model is trained), `ModelSpec`, `@register_model`, look-ups.
- `blocks.py`: the scaled input, the softmax head, a compact layer list.
- `tutorials.py`: the five tutorials' architectures, with their recipes and reported figures.
- `beyond.py`: our own models, "beyond the tutorials" (resnet, robust, the ensemble's graph).
- `in_words.py`: a recipe as a sentence, and a glossary of its terms.

Importing this package registers every model, tutorials first, in the order pages list them.
"""

# registers every model: beyond.py imports tutorials.py first (pages list models in that order)
from fmnist_core.models import beyond  # noqa: F401
from fmnist_core.models.beyond import ENSEMBLE_DEFAULT_MEMBERS, average_model
from fmnist_core.models.in_words import GLOSSARY, glossary_for, recipe_in_words
from fmnist_core.models.registry import (
    BEYOND,
    TUTORIALS,
    ModelSpec,
    Recipe,
    UnknownModelError,
    WeightsUnavailableError,
    create_model,
    display_name,
    get_spec,
    is_assembled,
    list_models,
    register_model,
    source_label,
)
from fmnist_core.models.tutorials import VGG_MEAN_BGR, VGG_WEIGHTS_FILE, vgg19_base

__all__ = [
    "BEYOND",
    "ENSEMBLE_DEFAULT_MEMBERS",
    "GLOSSARY",
    "TUTORIALS",
    "VGG_MEAN_BGR",
    "VGG_WEIGHTS_FILE",
    "ModelSpec",
    "Recipe",
    "UnknownModelError",
    "WeightsUnavailableError",
    "average_model",
    "create_model",
    "display_name",
    "get_spec",
    "glossary_for",
    "is_assembled",
    "list_models",
    "recipe_in_words",
    "register_model",
    "source_label",
    "vgg19_base",
]
