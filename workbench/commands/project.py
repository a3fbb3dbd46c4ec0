"""The Scrapy project a command runs in: is there one, its settings, its spiders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.commands.base import CliError


def require_project() -> None:
    from scrapy.utils.project import inside_project

    if not inside_project():
        raise CliError(
            "not inside a Scrapy project: no scrapy.cfg here or in a parent directory, "
            "and SCRAPY_SETTINGS_MODULE is not set (use 'workbench runspider FILE.py' "
            "or 'workbench demo')"
        )


def project_settings() -> Any:
    from scrapy.utils.project import get_project_settings

    try:
        return get_project_settings()
    except Exception as exc:
        raise CliError(f"cannot load the project settings: {type(exc).__name__}: {exc}") from None


def spider_loader(settings: Any, names: Sequence[str] = ()) -> Any:
    """The project's spider loader, once each of ``names`` is known to be a spider of it."""
    from scrapy.spiderloader import get_spider_loader

    try:
        loader = get_spider_loader(settings)
    except Exception as exc:
        raise CliError(f"cannot load the project's spiders: {type(exc).__name__}: {exc}") from None
    available = sorted(loader.list())
    for name in names:
        if name not in available:
            listing = ", ".join(available) if available else "none"
            raise CliError(f"unknown spider {name!r}; spiders in this project: {listing}")
    return loader
