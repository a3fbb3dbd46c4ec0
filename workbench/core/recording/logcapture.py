"""Route Python logging into the recorder instead of the terminal.

Textual owns the terminal while the app runs, so Scrapy's root handler
(stderr) is never installed; ``LOG_FILE`` still gets its file handler.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.utils.log import _get_handler, configure_logging

from workbench.core.recording.recorder import Recorder


class RecorderLogHandler(logging.Handler):
    """Appends formatted records to a recorder's log ring."""

    def __init__(self, recorder: Recorder, level: int | str = logging.DEBUG) -> None:
        super().__init__(level)
        self.recorder = recorder

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[0] is not None:
                message = f"{message}\n{self.formatException(record.exc_info)}"
            elif record.exc_text:
                message = f"{message}\n{record.exc_text}"
            spider = getattr(getattr(record, "spider", None), "name", None)
            self.recorder.add_log(
                record.levelno,
                record.levelname,
                record.name,
                message,
                record.created,
                spider if type(spider) is str else None,
            )
        except Exception:  # never let logging break the crawl
            self.handleError(record)

    def formatException(self, ei: Any) -> str:
        return logging.Formatter().formatException(ei)


class LogCapture:
    """Installs the recorder handler (and a LOG_FILE handler) on the root logger."""

    def __init__(self, recorder: Recorder, settings: Any) -> None:
        self.recorder = recorder
        self.settings = settings
        self.handlers: list[logging.Handler] = []

    _configured = False  # configure_logging() once per process, as scrapy does

    def install(self) -> None:
        settings = self.settings
        if not LogCapture._configured:
            configure_logging({"LOG_INSTALL_ROOT_HANDLER": False, "LOG_STDOUT": False})
            LogCapture._configured = True
        level = settings.get("LOG_LEVEL") if settings.getbool("LOG_ENABLED") else logging.WARNING
        handler = RecorderLogHandler(self.recorder, level)
        self.handlers.append(handler)
        if settings.get("LOG_FILE"):
            self.handlers.append(_get_handler(settings))
        root = logging.getLogger()
        for h in self.handlers:
            root.addHandler(h)
        root.setLevel(logging.DEBUG)

    def uninstall(self) -> None:
        root = logging.getLogger()
        for h in self.handlers:
            root.removeHandler(h)
            h.close()
        self.handlers.clear()
