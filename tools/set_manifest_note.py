"""Set the `note` of a shipped model's manifest (why its accuracy differs from the tutorial's).
The manifest is rewritten atomically; model and probability files are untouched.
Usage: python tools/set_manifest_note.py NAME "why" [FOLDER]   (default folder: assets/models)
"""

import json
import sys
from pathlib import Path

from fmnist_core.atomic import write_json_atomic

name, note = sys.argv[1], sys.argv[2]
folder = Path(sys.argv[3] if len(sys.argv) > 3 else "assets/models") / name
manifest = json.loads((folder / "manifest.json").read_text())
manifest["note"] = note
write_json_atomic(folder / "manifest.json", manifest, indent=1)
print(f"{name}: {note}")
