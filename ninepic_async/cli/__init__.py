"""The ``ninepic`` command line (``python -m ninepic_async`` runs it too).

``main.py`` parses arguments and runs one async function per command; ``output.py`` prints
tables, JSON and download progress; ``errors.py`` maps exceptions to one-line messages and
the documented exit statuses.
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
