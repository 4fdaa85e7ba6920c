"""Human-quotable ids: PAY_20261122031800_1a2b3c4d (UTC time, 32 random bits)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_internal_id(prefix: str, now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{prefix}_{moment:%Y%m%d%H%M%S}_{secrets.token_hex(4)}"


def new_payment_id(now: datetime | None = None) -> str:
    return new_internal_id("PAY", now)


def new_withdrawal_id(now: datetime | None = None) -> str:
    return new_internal_id("WD", now)
