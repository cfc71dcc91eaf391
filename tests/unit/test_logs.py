"""Logs: the bot token never reaches them."""

from __future__ import annotations

import logging

from bot.core.logs import REDACTED, RedactingFilter


def test_redacting_filter_hides_the_token_in_messages_args_and_tracebacks() -> None:
    token = "123456:SECRETsecretSECRETsecretSECRETsecret"
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "POST %s",
        (f"https://api.telegram.org/bot{token}/getMe",),
        None,
    )
    try:
        raise RuntimeError(f"failed https://api.telegram.org/bot{token}/sendMessage")
    except RuntimeError:
        import sys

        failing = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    log_filter = RedactingFilter([token])
    assert log_filter.filter(record) and log_filter.filter(failing)
    assert token not in record.getMessage() and REDACTED in record.getMessage()
    assert failing.exc_text is not None and token not in failing.exc_text
    assert REDACTED in failing.exc_text
