"""Logging set-up: the bot token is in every request URL, so it must never reach a log line."""

from __future__ import annotations

import logging
import sys

REDACTED = "<token>"


class RedactingFilter(logging.Filter):
    """Replaces secrets in the rendered message (arguments included) before any handler sees it."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = message
        for secret in self._secrets:
            clean = clean.replace(secret, REDACTED)
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks may carry the URL too: render them now, redacted.
            text = logging.Formatter().formatException(record.exc_info)
            for secret in self._secrets:
                text = text.replace(secret, REDACTED)
            record.exc_text = text
            record.exc_info = None
        if clean != message:
            record.msg, record.args = clean, None
        return True


class RetriesVisible(logging.Filter):
    """PTB reports failed attempts to reach Telegram at DEBUG; an admin must see them.

    Attached to the log handler while the "telegram.ext" loggers are opened to DEBUG: retry
    notices come through as warnings, every other record keeps the configured level.
    """

    def __init__(self, level: int) -> None:
        super().__init__()
        self._level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self._level:
            return True
        if "Failed run number" in str(record.msg):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            return True
        return False


def setup_logging(level: str, secrets: list[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL (with the token) at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    numeric = logging.getLevelName(level)
    if numeric > logging.DEBUG:
        logging.getLogger("telegram.ext").setLevel(logging.DEBUG)
        handler.addFilter(RetriesVisible(numeric))
