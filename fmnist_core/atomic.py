"""Files that readers never see half-written: write a temporary file, then rename it over.

The one helper for every file other processes may read while it changes: the dataset and
embedding caches, job status and lock files, the active-version choice, manifests edited by
tools. (A model artifact is a folder, swapped in by versions.artifact.save_artifact the same way.)
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_file(path: Path, fsync: bool = False) -> Iterator[IO[bytes]]:
    """A binary file that replaces `path` in one rename when the block ends without an
    error; on an error the old file stays and the temporary one is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes, fsync: bool = False) -> None:
    with atomic_file(path, fsync) as f:
        f.write(data)


def write_json_atomic(path: Path, data: Any, fsync: bool = False, **dump_options: Any) -> None:
    write_bytes_atomic(path, json.dumps(data, **dump_options).encode(), fsync)
