"""Log formats: ids as fields in text and JSON, redaction before either, quiet libraries."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from core.logging import REDACTED, setup_logging

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
API_KEY = "ABCDEF1-GHIJKL2-MNOPQR3-STUVWX4"


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def capture(json_format: bool) -> io.StringIO:
    setup_logging("DEBUG", [API_KEY], json_format=json_format)
    stream = io.StringIO()
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    return stream


def emit() -> None:
    log = logging.getLogger("core.poller")
    log.info("payment %s: key %s", 7, API_KEY, extra={"payment_id": 7, "user_id": 3})
    try:
        raise RuntimeError(f"https://api.telegram.org/bot{TOKEN}/sendMessage failed")
    except RuntimeError:
        log.exception("send failed", extra={"notification_id": 9, "chat_id": -100})
    logging.getLogger("httpx").info("HTTP Request: GET https://example/v1/status")


def test_json_lines_carry_ids_and_no_secrets(restore_root: None) -> None:
    stream = capture(json_format=True)
    emit()
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(records) == 2  # httpx's INFO line is dropped, also at DEBUG
    first, second = records
    assert first["level"] == "INFO" and first["logger"] == "core.poller"
    assert (first["payment_id"], first["user_id"]) == (7, 3)
    assert first["message"] == f"payment 7: key {REDACTED}"
    assert (second["notification_id"], second["chat_id"]) == (9, -100)
    assert "RuntimeError" in second["exc"] and REDACTED in second["exc"]
    assert TOKEN not in stream.getvalue() and API_KEY not in stream.getvalue()


def test_text_lines_append_ids(restore_root: None) -> None:
    stream = capture(json_format=False)
    emit()
    text = stream.getvalue()
    first = text.splitlines()[0]
    assert first.endswith(f"INFO core.poller: payment 7: key {REDACTED} payment_id=7 user_id=3")
    assert "ERROR core.poller: send failed chat_id=-100 notification_id=9\nTraceback" in text
    assert TOKEN not in text and API_KEY not in text and "HTTP Request" not in text
