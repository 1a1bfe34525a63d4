"""One image through preprocessing and every shipped model, as the Predict page does it.

Goal: median at most 100 ms server side. Reported against `model.predict`, measured in the
same run on the same image.
"""

import io
import statistics
import time

import numpy as np
from PIL import Image

from fmnist_core.analysis.predict import Predictor
from fmnist_core.data.fashion_mnist import load_dataset
from fmnist_core.data.preprocess import preprocess
from fmnist_core.versions import available_artifacts

REPEAT = 50
ds = load_dataset()
artifacts, _ = available_artifacts()
predictor = Predictor(artifacts)
print(f"models: {', '.join(predictor.names)} ({len(predictor.names)})")

# a user-like upload: dark item on white, 300x300 JPEG
buf = io.BytesIO()
Image.fromarray(255 - ds.x_test[7]).resize((300, 300)).convert("RGB").save(buf, "JPEG")
upload = buf.getvalue()


def timed(fn, repeat=REPEAT):
    fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out) * 1000, np.percentile(out, 95) * 1000


def ours():
    prep = preprocess(upload)
    return predictor(
        prep.image, prep.as_drawn, mirrored=True
    )  # as the Predict page reads an upload


def with_model_predict():
    prep = preprocess(upload)
    x = prep.model_input()
    return {n: m.predict(x, verbose=0) for n, m in predictor.models.items()}


prep_med, prep_p95 = timed(lambda: preprocess(upload))
ours_med, ours_p95 = timed(ours)
slow_med, slow_p95 = timed(with_model_predict, repeat=10)
print(
    f"preprocessing only (300x300 JPEG):        median {prep_med:6.1f} ms, p95 {prep_p95:6.1f} ms"
)
print(
    f"preprocess + all models (predict_on_batch): median {ours_med:6.1f} ms, p95 {ours_p95:6.1f} ms; goal <= 100 ms"
)
print(
    f"preprocess + all models (model.predict):    median {slow_med:6.1f} ms, p95 {slow_p95:6.1f} ms"
)
print(f"speed-up over model.predict: {slow_med / ours_med:.1f}x")
