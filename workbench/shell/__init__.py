"""The IPython shell on a running crawl (no textual import here)."""

from workbench.shell.session import inspect_response

__all__ = ["inspect_response"]
