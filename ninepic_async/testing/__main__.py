"""``python -m ninepic_async.testing --port 8080 [--photos N ...]``: serve a simulator until Ctrl-C."""

from __future__ import annotations

import sys

from .standalone import run_standalone

if __name__ == "__main__":
    sys.exit(run_standalone())
