"""Settings for core services in tests: explicit sections replace whatever the environment or
the YAML would have given, so a test's rules are the ones it names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.config import PaymentsSettings, Settings, TelegramSettings

ADMIN = 777_000_001
ADMIN_CHAT = -100_777


def make_settings(
    *, admin_ids: Sequence[int] = (ADMIN,), admin_chat_id: int = ADMIN_CHAT, **payments: Any
) -> Settings:
    """Ten pending withdrawals a user unless a test says otherwise: tests that are not about
    the limit make several requests."""
    payments.setdefault("max_pending_withdrawals", 10)
    return Settings(
        telegram=TelegramSettings(admin_chat_id=admin_chat_id, admin_ids=list(admin_ids)),
        payments=PaymentsSettings(**payments),
    )
