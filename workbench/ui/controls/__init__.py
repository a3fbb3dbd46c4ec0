"""The app's controls, one concern a module, mixed into ``WorkbenchApp``
(``workbench/ui/app.py``): ``keys`` (the key table, the ? screen, the command
palette), ``crawl`` (pause, stop, quit), ``shell`` (IPython here, or in the
attached crawl), ``breakpoints`` (the hit bar, continue, step).  Each is an
:class:`~workbench.ui.controls.base.AppBase`: what they share is declared there.
"""
