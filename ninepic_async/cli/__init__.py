"""The ``ninepic`` command line (``python -m ninepic_async`` runs it too).

One question per module: ``main.py`` the entry point (parse, dispatch, exit status);
``parser.py`` the argument tree; ``runtime.py`` one run's options, ids and client;
``commands.py`` the API commands; ``listings.py`` paged output; ``download.py`` download
and demo; ``simulate.py`` the foreground simulator; ``loop.py`` the event loop and Ctrl-C;
``logs.py`` log records on stderr; ``output.py`` tables, JSON and the progress bar;
``errors.py`` exceptions to one-line messages and exit statuses.
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
