"""Suite-wide setup: make `tests/` importable so tests can share `shared_data`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
