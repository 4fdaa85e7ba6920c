"""One ledger row as a user or an admin sees it: the user's /history and the admins'
/transactions word a row the same way (an adjustment or a bonus with its reason)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.i18n import t
from bot.reports.formatting import esc, moment, money
from core.db.models import TxType
from core.ledger import HistoryPage

REASON_SHOWN = 200  # characters of a reason in /history; the export carries it whole
WITH_REASON = frozenset({TxType.ADJUSTMENT, TxType.BONUS})


def type_name(kind: TxType) -> str:
    return t(f"ledger-type-{TxType(kind).value}")


def clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def row_lines(
    created_at: datetime,
    kind: TxType,
    amount: Decimal,
    balance_after: Decimal,
    reason: str | None,
    *,
    head: str = "",
    reason_shown: int = REASON_SHOWN,
) -> list[str]:
    """'<head>date · type', then the amount and the balance, then the reason (escaped) of an
    adjustment or a bonus."""
    lines = [
        f"{head}{moment(created_at)} · {type_name(kind)}",
        t("ledger-row-amount", amount=money(amount, signed=True), balance=money(balance_after)),
    ]
    if kind in WITH_REASON and reason:
        lines.append(t("ledger-row-reason", reason=esc(clip(reason.strip(), reason_shown))))
    return lines


def history_page(page: HistoryPage, page_number: int) -> str:
    """A page of the user's own /history, newest first."""
    pages = max(1, -(-page.total // page.limit))
    lines = [t("ledger-history-title", page=page_number + 1, pages=pages), ""]
    for entry in page.entries:
        lines += row_lines(
            entry.created_at, entry.type, entry.amount, entry.balance_after, entry.description
        )
    return "\n".join(lines)
