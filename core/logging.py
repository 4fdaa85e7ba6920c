"""Logging set-up with a filter that redacts secrets (the bot token travels in request URLs)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# aiogram and aiohttp log URLs like https://api.telegram.org/bot123:ABC.../sendMessage
_TOKEN_RE = re.compile(r"\b[0-9]{3,20}:[A-Za-z0-9_-]{30,64}\b")
REDACTED = "[REDACTED]"


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return _TOKEN_RE.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


_active = RedactSecrets()


def redact(text: str) -> str:
    """``text`` with the secrets setup_logging was given (and anything token-shaped) removed,
    for what goes to stderr without passing through logging."""
    return _active.redact(text)


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> RedactSecrets:
    """Root handler on stderr; every record passes the redaction filter before formatting."""
    global _active
    redactor = _active = RedactSecrets(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that narrate every step at INFO.
    for noisy in ("pgserver", "alembic.runtime.plugins", "aiogram.event"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return redactor
