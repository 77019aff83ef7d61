"""CLI tests run the real `pharos` console script (helpers shared with tests/server)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
