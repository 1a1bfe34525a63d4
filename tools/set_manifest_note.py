"""Set the `note` of a shipped model's manifest (why its accuracy differs from the tutorial's).
The manifest is rewritten atomically; model and probability files are untouched.
Usage: python tools/set_manifest_note.py NAME "why" [FOLDER]   (default folder: assets/models)
"""

import json
import os
import sys
import tempfile
from pathlib import Path

name, note = sys.argv[1], sys.argv[2]
folder = Path(sys.argv[3] if len(sys.argv) > 3 else "assets/models") / name
manifest = json.loads((folder / "manifest.json").read_text())
manifest["note"] = note
fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
with os.fdopen(fd, "w") as f:
    json.dump(manifest, f, indent=1)
os.replace(tmp, folder / "manifest.json")
print(f"{name}: {note}")
