"""The user's push about a bonus or an adjustment (core.admin.notify), in the user's
language at the time it is sent, with the reason the admin gave."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import t, use_locale
from bot.notifier import Rendered, Unrenderable
from bot.reports.formatting import esc, money
from core.admin.notify import KIND
from core.outbox import OutboxMessage
from core.users import get_by_telegram_id


def _usd(payload: Mapping[str, Any], key: str) -> Decimal:
    try:
        return Decimal(str(payload[key]))
    except (KeyError, InvalidOperation):
        raise Unrenderable(f"{KIND}: no {key}") from None


def adjustment_text(payload: Mapping[str, Any]) -> str:
    amount = _usd(payload, "amount_usd")
    if payload.get("type") == "bonus":
        title = t("adjustment-push-bonus", amount=money(amount))
    elif amount < 0:
        title = t("adjustment-push-debit", amount=money(-amount))
    else:
        title = t("adjustment-push-credit", amount=money(amount))
    lines = [title, t("adjustment-push-balance", balance=money(_usd(payload, "balance_usd")))]
    reason = str(payload.get("reason") or "").strip()
    if reason:
        lines.append(t("adjustment-push-reason", reason=esc(reason)))
    lines += ["", t("adjustment-push-history")]
    return "\n".join(lines)


async def render_adjustment(message: OutboxMessage, session: AsyncSession) -> Rendered:
    user = await get_by_telegram_id(session, message.chat_id)
    with use_locale(user.language if user is not None and user.language else ""):
        return Rendered(adjustment_text(message.payload))


RENDERERS = {KIND: render_adjustment}
