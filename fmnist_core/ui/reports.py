"""The report download: written when the button is pressed (not on every rerun), once per
pair of model versions, and kept for the next person who asks."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from fmnist_core.contracts import Manifest
from fmnist_core.report import make_report
from fmnist_core.ui.loaders import dataset_or_stop
from fmnist_core.versions import find_artifact

_KEPT: OrderedDict[tuple, bytes] = OrderedDict()
_LOCK = threading.Lock()
KEEP = 8


def report_maker(manifest: Manifest, ref: str, other: str | None) -> Callable[[], bytes]:
    """A callable for st.download_button's deferred data (it runs on another thread, where
    Streamlit commands are ignored: the dataset is fetched here, in the page's run)."""
    ds = dataset_or_stop()
    created = manifest.get("created_utc")

    def make() -> bytes:
        other_art = find_artifact(other) if other else None
        key = (ref, created, other, other_art.manifest.get("created_utc") if other_art else None)
        with _LOCK:
            if key in _KEPT:
                return _KEPT[key]
        data = make_report(ref, other, ds=ds).encode()
        with _LOCK:
            _KEPT[key] = data
            while len(_KEPT) > KEEP:
                _KEPT.popitem(last=False)
        return data

    return make
