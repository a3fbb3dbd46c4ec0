"""The ``workbench`` commands: one module each, every one a ``base.Command``,
listed once in ``registry.COMMANDS`` (``main()`` in ``workbench/cli.py``
dispatches from it and the top-level help lists it).

``running`` is what they share to run a source: the app, its signals and the
graceful stop after it, the headless run, ``--web``, the lines printed after
the app.  Like ``workbench.cli``, nothing here imports Textual at import time:
the UI is imported inside the functions that run it.
"""
