"""The outbox alerts' wording and the notifier's settings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from bot import texts
from core.config import NotifierSettings
from core.outbox import Backlog, jsonable

HOSTILE = "<b>Eve</b> & <script>"


def test_undelivered_card_alert_names_the_withdrawal_and_escapes_everything() -> None:
    payload = jsonable(
        {
            "row_id": 7,
            "kind": "withdrawal_card",
            "chat_id": -100,
            "to_admin_chat": True,
            "withdrawal_id": 5,
            "internal_id": f"WD-5{HOSTILE}",
            "status": "pending",
            "amount_usd": "50.00",
            "error": f"Bad Request: {HOSTILE}",
            "created_at": "2026-12-03T10:00:00+00:00",
        }
    )
    text = texts.outbox_undelivered(payload)
    assert "a withdrawal card" in text and "To: the admin chat" in text
    assert "WD-5&lt;b&gt;Eve&lt;/b&gt; &amp; &lt;script&gt;" in text
    assert HOSTILE not in text
    assert "Queued: 2026-12-03 10:00 UTC" in text and "Amount: $50.00" in text
    assert "buttons below" in text
    private = texts.outbox_undelivered(
        {**payload, "fallback": True, "admin_chat_error": f"Forbidden: {HOSTILE}"}
    )
    assert "/pending in the admin chat" in private and "privately" in private
    assert HOSTILE not in private


def test_undelivered_user_push_and_unknown_kinds() -> None:
    push = texts.outbox_undelivered(
        {"kind": "deposit_status", "chat_id": 42, "internal_id": "D-1", "error": "chat not found"}
    )
    assert "Deposit: <code>D-1</code>" in push and "The user was not told" in push
    odd = texts.outbox_undelivered({"kind": HOSTILE, "created_at": "not a date"})
    assert HOSTILE not in odd and "Queued" not in odd


def test_backlog_alert_and_stats_line() -> None:
    text = texts.outbox_backlog({"depth": 12, "oldest_minutes": 14, "threshold_minutes": 10})
    assert "Queued: 12, the oldest for 14 min (alert above 10 min)" in text
    assert "once until the queue has cleared" in text

    class Stats:  # only what the line reads
        outbox = Backlog(3, 1, timedelta(hours=2, minutes=5), 1)

    line = texts.admin_stats_outbox(Stats())  # type: ignore[arg-type]
    assert (
        line
        == "⚠️ <b>Outbox</b>: 3 queued, the oldest for 2 h 5 min · 1 undelivered in the last day"
    )


def test_notifier_lease_must_outlast_a_send() -> None:
    assert NotifierSettings().lease_seconds > NotifierSettings().send_timeout_seconds
    with pytest.raises(ValidationError, match="lease_seconds must be longer"):
        NotifierSettings(lease_seconds=10, send_timeout_seconds=20)
    with pytest.raises(ValidationError):
        NotifierSettings(give_up_after_seconds=0)
