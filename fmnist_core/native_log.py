"""The command line's stderr carries its own messages only.

TensorFlow, XLA and absl write their start-up lines straight to file descriptor 2 from C++
("All log messages before absl::InitializeLog() ...", oneDNN and CUDA notes, and
"E0000 ... failed call to cuInit: INTERNAL: CUDA error" on every machine without a GPU, which
reads like a failure), before TF_CPP_MIN_LOG_LEVEL is even looked at. `to_log()` points
descriptor 2 at a log file (`<cache>/logs/native.log`) and gives Python's `sys.stderr` a copy
of the real one: the program's messages, Python's tracebacks and real errors still reach the
terminal; the libraries' chatter (and Python warnings from libraries) goes to the log.
`python -m fmnist_core --verbose ...` leaves everything on stderr.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from fmnist_core.paths import cache_dir

LOG_NAME = "native.log"


def log_path() -> Path:
    return cache_dir() / "logs" / LOG_NAME


@contextlib.contextmanager
def to_log(path: Path | None = None) -> Iterator[Path | None]:
    """Descriptor 2 (C++ libraries) into `path` (default log_path()); sys.stderr (this
    program, Python's tracebacks) stays on the real stderr. Yields the log's path, or None if
    the log cannot be opened (then nothing changes)."""
    path = path or log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        yield None
        return
    old_stderr, old_showwarning = sys.stderr, warnings.showwarning
    with contextlib.suppress(Exception):
        old_stderr.flush()
    real = os.dup(2)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    log_stream = open(2, "w", buffering=1, closefd=False, errors="replace")  # noqa: SIM115
    sys.stderr = io.TextIOWrapper(
        open(os.dup(real), "wb", buffering=0),  # noqa: SIM115 - lives until restored
        line_buffering=True,
        errors="replace",
    )

    # libraries' Python warnings and log records: into the log too
    def to_the_log(message, category, filename, lineno, file=None, line=None) -> None:
        log_stream.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = to_the_log
    handler = logging.StreamHandler(log_stream)
    library_loggers = [logging.getLogger(n) for n in ("absl", "tensorflow", "h5py", "numba")]
    for logger in library_loggers:
        logger.addHandler(handler)
        logger.propagate = False
    try:
        yield path
    finally:
        for logger in library_loggers:
            logger.removeHandler(handler)
            logger.propagate = True
        warnings.showwarning = old_showwarning
        with contextlib.suppress(Exception):
            sys.stderr.flush()
            sys.stderr.close()
        sys.stderr = old_stderr
        log_stream.close()
        os.dup2(real, 2)
        os.close(real)
