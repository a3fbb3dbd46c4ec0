"""The ``workbench`` commands (being moved here from ``workbench/cli.py``).

``running`` is what they share to run a source: the app, its signals and the
graceful stop after it, the headless run, ``--web``, the lines printed after
the app.  ``base`` holds ``CliError``, the one error for bad input.  Like
``workbench.cli``, nothing here imports Textual at import time: the UI is
imported inside the functions that run it.
"""
