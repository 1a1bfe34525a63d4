"""Work a server does once in the background after its first page, so people do not wait
for it later: compiling UMAP's numba code, and the picture sets a model report's Known limits
section predicts (kept on disk: made once per cache folder)."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time

from fmnist_core.analysis.embeddings import (
    warm_up_umap,
)
from fmnist_core.data.fashion_mnist import load_dataset
from fmnist_core.report import picture_set_inputs

log = logging.getLogger(__name__)


WARM_UP_DELAY = 3.0  # seconds after the server's first page, so that page is not slowed


def start_warm_up() -> None:
    """Once per server process: compile UMAP's numba code in a low-priority thread, so the
    first UMAP view takes seconds, not 40 (FMNIST_WARM_UP=0 turns it off, as the tests do)."""
    if os.environ.get("FMNIST_WARM_UP", "1") == "0":
        return

    def warm() -> None:
        time.sleep(WARM_UP_DELAY)
        with contextlib.suppress(OSError, AttributeError):  # Linux: this thread only
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        try:
            seconds = warm_up_umap()
            log.info("UMAP warmed up in %.1f s", seconds)
        except Exception as e:  # never fatal: the first UMAP view then compiles it itself
            log.warning("UMAP warm-up failed (%s: %s)", type(e).__name__, e)
        try:  # the report's picture sets: the first report then takes 1-2 s, not 10
            ds = load_dataset()
            picture_set_inputs(ds.x_test, ds.y_test)
        except Exception as e:  # never fatal: the first report makes them itself
            log.warning("report picture sets not prepared (%s: %s)", type(e).__name__, e)

    threading.Thread(target=warm, name="fmnist-warm-up", daemon=True).start()
