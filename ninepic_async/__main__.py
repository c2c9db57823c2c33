"""``python -m ninepic_async ...`` runs the ``ninepic`` command line."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
