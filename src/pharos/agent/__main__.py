"""``python -m pharos.agent``: the same as ``pharos agent``."""

import sys

from pharos.cli import app

if __name__ == "__main__":
    app(["agent", *sys.argv[1:]], prog_name="pharos")
