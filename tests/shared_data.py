"""Where the project's read-only shared folder is: `../shared` beside the repository (as laid out
for developers and for CI), or `$PHAROS_SHARED`."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PHAROS_SHARED", REPO.parent / "shared"))
CONFORMANCE = SHARED / "conformance"

if not CONFORMANCE.is_dir():
    raise RuntimeError(f"shared conformance data not found at {CONFORMANCE}; set PHAROS_SHARED")
