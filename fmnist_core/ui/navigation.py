"""The app's table of contents: app.py builds the navigation from PAGES, the home page
describes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageInfo:
    path: str
    title: str
    icon: str
    summary: str
    section: str  # the navigation's heading above the page ("" for none: the home page)
    default: bool = False


SECTIONS = ("", "Try it", "Look inside", "Judge the models", "Build")  # in the sidebar's order

PAGES = [
    PageInfo(
        "pages/home.py",
        "Home",
        ":material/home:",
        "What the app is, and the dataset at a glance: examples of every class, the class "
        "balance, and where the data came from.",
        section="",
        default=True,
    ),
    PageInfo(
        "pages/models.py",
        "Models",
        ":material/model_training:",
        "Every tutorial's CNN: its recipe, whether it is trained, its test accuracy beside the "
        "accuracy the tutorial reported.",
        section="Judge the models",
    ),
    PageInfo(
        "pages/compare.py",
        "Compare models",
        ":material/leaderboard:",
        "A leaderboard against the tutorials' figures, learning curves, k-fold spread, "
        "per-class accuracy, and accuracy against model size.",
        section="Judge the models",
    ),
    PageInfo(
        "pages/confusion.py",
        "Confusion matrix",
        ":material/grid_on:",
        "Where a model goes wrong: click any cell to see the test images behind it; compare "
        "two models image by image.",
        section="Judge the models",
    ),
    PageInfo(
        "pages/embeddings.py",
        "Embeddings",
        ":material/scatter_plot:",
        "The test images as a map (PCA, t-SNE, UMAP or a custom axis, 2D or 3D) from raw pixels "
        "or what a model learned; select points to see their images.",
        section="Look inside",
    ),
    PageInfo(
        "pages/quality.py",
        "Data quality",
        ":material/fact_check:",
        "Is the model wrong, or the label? Training and test images whose label is probably "
        "wrong, a decision for each kept for the team, and test images that also sit in the "
        "training set.",
        section="Judge the models",
    ),
    PageInfo(
        "pages/train.py",
        "Train",
        ":material/exercise:",
        "Train any tutorial's model from the browser and watch it learn, live; the result "
        "appears on every page.",
        section="Build",
    ),
    PageInfo(
        "pages/predict.py",
        "Predict",
        ":material/draw:",
        "Draw, upload or pick an image; see how it becomes the 28x28 input and what every "
        "model answers.",
        section="Try it",
    ),
    PageInfo(
        "pages/inside.py",
        "Inside the CNN",
        ":material/neurology:",
        "Follow an image (yours from Predict, or a test image) through a model: its layers, "
        "feature maps, first-layer filters and the arithmetic of one value, and which pixels "
        "decided the answer, with how far each map can be trusted.",
        section="Look inside",
    ),
    PageInfo(
        "pages/quiz.py",
        "Quiz",
        ":material/quiz:",
        "Label twenty test images yourself and see how the CNNs did on the same ones; the "
        "teacher's class view shows everyone's scores and the images the class found hardest.",
        section="Try it",
    ),
]


def pages_by_section() -> dict[str, list[PageInfo]]:
    """PAGES grouped under the sidebar's headings, in SECTIONS' order and PAGES' order within."""
    return {s: [p for p in PAGES if p.section == s] for s in SECTIONS}
