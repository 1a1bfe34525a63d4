"""Every available model's answer for one image, fast enough to feel instant."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from fmnist_core.analysis.evaluate import predict_probabilities
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.contracts import PICTURE_STYLE_AUGMENTATIONS, model_sha256
from fmnist_core.models import UnknownModelError, get_spec
from fmnist_core.versions import Artifact, ArtifactError

_LOG = logging.getLogger(__name__)


@dataclass
class Answer:
    name: str
    probabilities: np.ndarray  # (10,) float32
    seconds: float
    readings: int = 1  # how many readings its probabilities are the mean of
    as_drawn: bool = False  # one reading was of the drawing without the fill step
    mirrored: bool = False  # half the readings were of the picture mirrored

    @property
    def label(self) -> int:
        return int(self.probabilities.argmax())

    @property
    def class_name(self) -> str:
        return CLASS_NAMES[self.label]

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(CLASS_NAMES[i], float(self.probabilities[i])) for i in order]

    def as_json(self) -> dict:
        return {
            "label": self.label,
            "class": self.class_name,
            "probabilities": [round(float(p), 6) for p in self.probabilities],
            "readings": self.readings,
            "as_drawn": self.as_drawn,
            "mirrored": self.mirrored,
        }


class Predictor:
    """Loaded models, all called as one compiled predict step.

    `model.predict` costs far more set-up per call on a CPU than a small CNN takes to read one
    image; `predict_on_batch` runs the same compiled function without that. One Keras model
    whose outputs are all the models' outputs (`joint`) answers in one call, faster than a
    call per model, and under a classroom's load with one release of Python's lock per answer
    instead of one per model. An Answer's `seconds` is that model's own time
    for the picture's readings, measured once when the models are loaded (the fastest of
    five calls).
    """

    def __init__(self, artifacts: list[Artifact]):
        self.models = {}
        self.problems: dict[str, str] = {}
        checksums: dict[str, str | None] = {}  # model file SHA-256s
        for art in artifacts:
            try:
                self.models[art.name] = art.load_model()
                checksums[art.name] = model_sha256(art.manifest)
            except ArtifactError as e:
                self.problems[art.name] = str(e)
        # An ensemble whose members are loaded here, the very files it was made from, is
        # answered with the mean of their answers: the same numbers without running them twice.
        self.averaged: dict[str, dict[str, float]] = {}  # ensemble -> member weights
        for art in artifacts:
            sources = art.manifest.get("member_sources") or {}
            same = [
                src.get("sha256") is not None
                and checksums.get(n) == src["sha256"]
                and n not in self.averaged
                for n, src in sources.items()
            ]
            if art.name in self.models and same and all(same):
                weights = art.manifest.get("member_weights") or {}
                self.averaged[art.name] = {
                    n: float(weights.get(n, 1 / len(sources))) for n in sources
                }
        # Each model's time for one picture's readings (1, 2 or 4 images), measured here: the
        # models then run as one call, which gives no time of its own per model.
        self.timings: dict[tuple[str, int], float] = {}
        warm = np.zeros((4, 28, 28, 1), np.float32)
        for name, model in self.models.items():  # compile here, not on the first user's image
            for n in (1, 2, 4) if reads_drawings(name) else (1,):
                model.predict_on_batch(warm[:n])
                # the fastest call: the one least disturbed by the server's other threads (it
                # cannot undo one that holds the GIL for seconds, as the UMAP warm-up does
                # while it compiles: small CNNs then read several times slower)
                self.timings[name, n] = min(call_seconds(model, warm[:n], repeats=5))
        try:
            self.joint = _joint_model(
                {n: m for n, m in self.models.items() if n not in self.averaged}
            )
            for n in (1, 2, 4) if self.joint is not None else ():
                self._run_joint(warm[:1], warm[:n])  # a test image, an upload, a drawing
        except (ValueError, TypeError, RuntimeError) as e:  # slower, never wrong
            _LOG.warning("the models could not be joined into one (%s); each answers alone", e)
            self.joint = None

    def _run_joint(self, image: np.ndarray, views: np.ndarray) -> dict:
        feed = {"image": image, "views": views}
        return self.joint.predict_on_batch({k: feed[k] for k in self.joint.input})

    @property
    def names(self) -> list[str]:
        return list(self.models)

    def __call__(
        self, image28: np.ndarray, as_drawn: np.ndarray | None = None, mirrored: bool = False
    ) -> dict[str, Answer]:
        """Every model's answer. The models trained on drawings (`reads_drawings`) also read
        `as_drawn`, a filled drawing's input without the fill step (`Preprocessed.as_drawn`),
        and, when `mirrored` (a user's picture), each input mirrored too: they learned items
        facing either way, and the mean of the mirrored readings is more often right on every
        set of user-like pictures in the validation split. They answer with
        the mean of their readings."""
        x = np.asarray(image28, dtype=np.float32).reshape(1, 28, 28, 1)  # one picture
        drawn = None if as_drawn is None else np.asarray(as_drawn, np.float32).reshape(x.shape)
        views = np.concatenate(reading_views(x, drawn, mirrored))
        if self.joint is not None:
            outputs = self._run_joint(x, views)
        else:
            outputs = {  # every reading in one call: less CPU than a call per reading
                name: model.predict_on_batch(views if reads_drawings(name) else x)
                for name, model in self.models.items()
                if name not in self.averaged
            }
        answers, plain = {}, {}
        for name, out in outputs.items():
            out = np.asarray(out, np.float32)
            plain[name], probs = out[0], out.mean(axis=0)
            how = (len(out), drawn is not None, mirrored) if len(out) > 1 else ()
            answers[name] = Answer(name, probs, self.timings[name, len(out)], *how)
        for name, members in self.averaged.items():  # its time: what its members took
            probs = np.sum([w * plain[m] for m, w in members.items()], axis=0, dtype=np.float32)
            answers[name] = Answer(name, probs, sum(answers[m].seconds for m in members))
        return {name: answers[name] for name in self.models}


def call_seconds(model, batch: np.ndarray, repeats: int) -> list[float]:
    """Seconds of each of `repeats` compiled `predict_on_batch` calls on `batch` (the
    Predictor's path; tradeoffs.predict_latency_ms takes their median)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(batch)
        times.append(time.perf_counter() - start)
    return times


def _joint_model(models: dict):
    """One Keras model with every model's output, by name: the tutorial models read the
    picture ("image", one image), the models trained on drawings read all of its readings
    ("views", 1 to 4 images). None when there is nothing to join."""
    import keras  # loads TensorFlow: only when a model is built, run or saved

    if not models:
        return None
    inputs, outputs = {}, {}
    for name, model in models.items():
        key = "views" if reads_drawings(name) else "image"
        if key not in inputs:
            inputs[key] = keras.Input((28, 28, 1), name=key)
        outputs[name] = model(inputs[key])
    return keras.Model(inputs, outputs)


def reading_views(x: np.ndarray, as_drawn: np.ndarray | None, mirrored: bool) -> list:
    """The inputs a model trained on drawings reads for a batch of pictures (N, 28, 28[, 1]):
    the pictures, the drawings as drawn when given, and, when `mirrored`, each of those
    mirrored left to right. Its answer is the mean over them (the Predictor, bench_drawings)."""
    views = [x] if as_drawn is None else [x, as_drawn]
    return views + [v[:, :, ::-1] for v in views] if mirrored else views


def mean_of_readings(model, views: list[np.ndarray]) -> np.ndarray:
    """The model's answer to each picture: its probabilities averaged over the readings
    (reading_views), (N, 10)."""
    return np.mean([predict_probabilities(model, v) for v in views], axis=0)


def reads_drawings(name: str) -> bool:
    """Trained on outline drawings as well as filled items, and on mirror images (the
    picture-styles augmentation mirrors half of its images).

    The fill step helps the tutorial models, which only know solid items, but costs such a
    model a little: it answers with the mean of its readings of the filled drawing and of the
    drawing as drawn, which the drawings benchmark (bench/bench_drawings.py) finds as good as
    its better reading of the two.
    """
    try:
        return get_spec(name).recipe.augmentation in PICTURE_STYLE_AUGMENTATIONS
    except UnknownModelError:
        return False


# The model whose answer the Predict page leads with: trained for drawings and uploads too.
HEADLINE_MODEL = "robust"
# Below this top probability the headline model is wrong more often than right, on pictures
# made from the validation split it held out (drawings, silhouettes, clip art, photos):
# `python tools/choose_unsure_threshold.py` flags 8.3% of its answers there, half of them
# right, and the others are 92.7% right. Below it, Predict says it is unsure and names two.
UNSURE_BELOW = 0.5


@dataclass
class Headline:
    """The answer to lead with, and how many of the other models agree with it."""

    model: str | None  # the headline model's name; None: the majority of all models
    label: int
    agree: int
    others: int
    # the headline model's first two (class, probability) when it is unsure (UNSURE_BELOW)
    unsure: list[tuple[str, float]] | None = None

    @property
    def class_name(self) -> str:
        return CLASS_NAMES[self.label]


def headline(answers: dict[str, Answer]) -> Headline:
    """The robust model's answer when it is loaded, else the majority's."""
    lead = answers.get(HEADLINE_MODEL)
    if lead is None:
        name, votes = consensus(answers)
        return Headline(None, CLASS_NAMES.index(name), votes, len(answers))
    # "3 of 9 tutorial models agree": our other models beyond the tutorials are not counted
    others = [a for n, a in answers.items() if n != HEADLINE_MODEL and _is_tutorial(n)]
    top = lead.top(2)
    return Headline(
        HEADLINE_MODEL, lead.label, sum(a.label == lead.label for a in others), len(others),
        unsure=top if top[0][1] < UNSURE_BELOW else None,
    )  # fmt: skip


# Tops that a photo tells apart by what is inside the shape (collar, buttons, zip, ribbing) and
# an outline or a silhouette hardly does: most of robust's errors on drawings are one read as
# another (bench_drawings: 94-98 of 123-133 errors per drawing set).
ALIKE_AS_OUTLINES = ("T-shirt/top", "Pullover", "Coat", "Shirt")
# the runner-up's probability from which "it could also be" is worth saying
CLOSE_SECOND = 0.2


def close_tops(answer: Answer) -> tuple[str, str] | None:
    """The answer's first and second class when both are tops and the second is close: the
    case where drawing the lines inside the item (collar, buttons, zip) decides."""
    (first, _), (second, p) = answer.top(2)
    if first in ALIKE_AS_OUTLINES and second in ALIKE_AS_OUTLINES and p >= CLOSE_SECOND:
        return first, second
    return None


def _is_tutorial(name: str) -> bool:
    try:
        return not get_spec(name).beyond_tutorials
    except UnknownModelError:
        return True


def models_disagree(answers: dict[str, Answer]) -> bool:
    return len({a.label for a in answers.values()}) > 1


def consensus(answers: dict[str, Answer]) -> tuple[str, int]:
    """The class most models chose, and how many chose it."""
    votes = np.bincount([a.label for a in answers.values()], minlength=len(CLASS_NAMES))
    return CLASS_NAMES[int(votes.argmax())], int(votes.max())
