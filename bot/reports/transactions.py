"""/transactions in the admin chat: reading its arguments and rendering a page.

Arguments, each optional and in any order: a Telegram id or @username, a type, a first day
(YYYY-MM-DD, UTC). A page is at most core.ledger_views.MAX_PAGE_SIZE rows with reasons clipped,
well under Telegram's 4,096 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import (
    AdminTransactionsCallback,
    LedgerPageDirection,
    LedgerTypeCode,
)
from bot.i18n import t
from bot.reports.formatting import day, esc
from bot.reports.ledger import clip, row_lines, type_name
from core.db.models import TxType
from core.ledger_views import LedgerPage, LedgerRow

_USERNAME = re.compile(r"^@[A-Za-z0-9_]{1,64}$")
_TELEGRAM_ID = re.compile(r"^[0-9]{1,19}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
MAX_ID = 2**63 - 1
# Reasons in the admin list are clipped harder than in /history: twice the rows, each with a
# user and a reference; the worst page (test_reports) stays under 4,096 characters.
REASON_SHOWN = 120
TYPES = tuple(kind.value for kind in TxType)


class ArgumentError(ValueError):
    """One sentence for the admin (already in the current locale)."""


@dataclass(frozen=True, slots=True)
class TransactionArgs:
    user: str | None = None  # '123' or '@name', resolved by the core
    type: TxType | None = None
    since: date | None = None


def parse_date(token: str, *, bad_date_key: str) -> date | None:
    """A YYYY-MM-DD token as a date; None if it does not look like one. Raises ArgumentError
    for one that looks like a date but is none (2026-02-30)."""
    if not _DATE.match(token):
        return None
    try:
        return date.fromisoformat(token)
    except ValueError:
        raise ArgumentError(t(bad_date_key, argument=esc(token))) from None


def parse_arguments(text: str | None) -> TransactionArgs:
    """Raises ArgumentError."""
    found: dict[str, object] = {}
    for token in (text or "").split():
        what, value = _classify(token)
        if what in found:
            raise ArgumentError(
                t("transactions-repeated", argument=esc(clip(token, 64)), what=what)
            )
        found[what] = value
    user = found.get("user")
    kind = found.get("type")
    since = found.get("date")
    return TransactionArgs(
        user=user if isinstance(user, str) else None,
        type=kind if isinstance(kind, TxType) else None,
        since=since if isinstance(since, date) else None,
    )


def _classify(token: str) -> tuple[str, object]:
    when = parse_date(token, bad_date_key="transactions-bad-date")
    if when is not None:
        return "date", when
    if token.lower() in TYPES:
        return "type", TxType(token.lower())
    if _USERNAME.match(token) or (_TELEGRAM_ID.match(token) and 0 < int(token) <= MAX_ID):
        return "user", token
    raise ArgumentError(
        t("transactions-bad-argument", argument=esc(clip(token, 64)), types=", ".join(TYPES))
    )


def type_code(kind: TxType | None) -> LedgerTypeCode | None:
    return None if kind is None else LedgerTypeCode[kind.name]


def type_of(code: LedgerTypeCode | None) -> TxType | None:
    return None if code is None else TxType[code.name]


def since_code(since: date | None) -> int | None:
    return None if since is None else since.year * 10000 + since.month * 100 + since.day


def since_of(code: int | None) -> date | None:
    """Raises ValueError for a number that is no day (forged data)."""
    if code is None:
        return None
    return date(code // 10000, code // 100 % 100, code % 100)


def _who(row: LedgerRow) -> str:
    name = f" @{esc(row.username)}" if row.username else ""
    return f"<code>{row.telegram_id}</code>{name}"


def _row(row: LedgerRow) -> str:
    lines = row_lines(
        row.created_at,
        row.type,
        row.amount,
        row.balance_after,
        row.reason,
        head=f"#{row.id} · ",
        reason_shown=REASON_SHOWN,
    )
    lines[0] += f" · {_who(row)}"
    if row.reference:
        lines[1] += " · " + t(
            "ledger-row-reference", reference=f"<code>{esc(row.reference)}</code>"
        )
    return "\n".join(lines)


def _filters(user: int | None, kind: TxType | None, since: date | None) -> str:
    parts = []
    if user is not None:
        parts.append(t("transactions-filter-user", user=f"<code>{user}</code>"))
    if kind is not None:
        parts.append(t("transactions-filter-type", type=type_name(kind)))
    if since is not None:
        parts.append(t("transactions-filter-since", since=day(since)))
    return " · ".join(parts)


def page_text(page: LedgerPage, user: int | None, kind: TxType | None, since: date | None) -> str:
    filters = _filters(user, kind, since)
    if not page.rows:
        return "\n".join(part for part in (filters, t("transactions-none")) if part)
    first = page.first_position
    title = t("transactions-title", first=first, last=first + len(page.rows) - 1, total=page.total)
    head = [title] + ([filters] if filters else [])
    return "\n".join(head) + "\n\n" + "\n\n".join(_row(row) for row in page.rows)


def page_buttons(
    page: LedgerPage, user: int | None, kind: TxType | None, since: date | None
) -> InlineKeyboardMarkup | None:
    if not page.rows:
        return None
    filters = {"user": user, "type": type_code(kind), "since": since_code(since)}
    buttons = []
    if page.newer:
        data = AdminTransactionsCallback(
            cursor=page.rows[0].id, direction=LedgerPageDirection.NEWER, **filters
        )
        buttons.append(
            InlineKeyboardButton(text=t("transactions-button-newer"), callback_data=data.pack())
        )
    if page.older:
        data = AdminTransactionsCallback(
            cursor=page.rows[-1].id, direction=LedgerPageDirection.OLDER, **filters
        )
        buttons.append(
            InlineKeyboardButton(text=t("transactions-button-older"), callback_data=data.pack())
        )
    return InlineKeyboardMarkup(inline_keyboard=[buttons]) if buttons else None
