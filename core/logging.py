"""Logging set-up: a filter that redacts secrets (the bot token travels in request URLs), plain
text or one JSON object per line, and ids as fields.

Ids go in as ``extra`` fields, e.g. ``log.info("credited", extra={"payment_id": 7})``: the JSON
format prints them as keys, the text format appends ``payment_id=7`` to the line.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

# aiogram and aiohttp log URLs like https://api.telegram.org/bot123:ABC.../sendMessage: no \b
# before the digits, which follow "bot" in a URL.
_TOKEN_RE = re.compile(r"(?<![0-9])[0-9]{3,20}:[A-Za-z0-9_-]{30,64}(?![A-Za-z0-9_-])")
REDACTED = "[REDACTED]"

# The extra fields printed as fields (in this order). Others given via extra= are ignored.
ID_FIELDS = (
    "payment_id",
    "withdrawal_id",
    "user_id",
    "telegram_id",
    "chat_id",
    "notification_id",
    "update_id",
    "provider_payment_id",
)
# Libraries that narrate every step (httpx: every provider request) at INFO.
NOISY_LOGGERS = ("pgserver", "alembic.runtime.plugins", "aiogram.event", "httpx", "httpcore")


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
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name in ID_FIELDS:
            value = record.__dict__.get(name)
            if isinstance(value, str):
                record.__dict__[name] = self.redact(value)
        return True


def _ids(record: logging.LogRecord) -> dict[str, Any]:
    return {name: record.__dict__[name] for name in ID_FIELDS if name in record.__dict__}


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = " ".join(f"{k}={v}" for k, v in _ids(record).items())
        return f"{line} {fields}" if fields else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the id fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_ids(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


_active = RedactSecrets()


def redact(text: str) -> str:
    """``text`` with the secrets setup_logging was given (and anything token-shaped) removed,
    for what goes to stderr without passing through logging."""
    return _active.redact(text)


def setup_logging(
    level: str = "INFO", secrets: Iterable[str] = (), *, json_format: bool = False
) -> RedactSecrets:
    """Root handler on stderr; every record passes the redaction filter before formatting."""
    global _active
    redactor = _active = RedactSecrets(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return redactor
