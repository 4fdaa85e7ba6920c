"""/export: the ledger of a period as a CSV file, written batch by batch to a temporary file.

UTF-8 with a byte order mark (spreadsheets then read Cyrillic right), a header row, one row per
transaction. Amounts are exact decimal strings ('12.50', '-5.00'), times ISO 8601 in UTC. Free
text (username, reason) that a spreadsheet would run as a formula (it starts with = + - @, a tab
or a carriage return) gets a leading apostrophe; the amount columns are numbers and stay as they
are.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from bot.i18n import t
from bot.reports.formatting import esc
from bot.reports.ledger import clip
from bot.reports.transactions import ArgumentError, parse_date
from core.ledger_views import Export, LedgerRow

CENT = Decimal("0.01")
BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = (
    "export-column-id",
    "export-column-time",
    "export-column-telegram-id",
    "export-column-username",
    "export-column-type",
    "export-column-amount",
    "export-column-balance",
    "export-column-reference",
    "export-column-reason",
)


def neutralise(value: str | None) -> str:
    """Free text as a cell no spreadsheet runs as a formula."""
    text = value or ""
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def amount(value: Decimal) -> str:
    """Exact, to the cent, never an exponent: '12.50', '-5.00'."""
    return format(value.quantize(CENT), "f")


def timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def header() -> list[str]:
    return [t(key) for key in COLUMNS]


def cells(row: LedgerRow) -> list[str]:
    return [
        str(row.id),
        timestamp(row.created_at),
        str(row.telegram_id),
        neutralise(row.username),
        row.type.value,
        amount(row.amount),
        amount(row.balance_after),
        row.reference or "",
        neutralise(row.reason),
    ]


def csv_text(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue()


async def write_csv(export: Export, path: Path) -> int:
    """Write the header and every batch to ``path``; the number of rows written."""
    written = 0
    with path.open("w", encoding="utf-8", newline="") as file:
        await asyncio.to_thread(file.write, BOM + csv_text([header()]))
        async for batch in export.batches():
            await asyncio.to_thread(file.write, csv_text(cells(row) for row in batch))
            written += len(batch)
    return written


def file_name(since: date, until: date) -> str:
    return f"ledger_{since.isoformat()}_{until.isoformat()}.csv"


def parse_period(text: str | None) -> tuple[date | None, date | None]:
    """'/export [first day] [last day]' (YYYY-MM-DD). Raises ArgumentError."""
    tokens = (text or "").split()
    if len(tokens) > 2:
        raise ArgumentError(t("export-too-many"))
    days: list[date] = []
    for token in tokens:
        found = parse_date(token, bad_date_key="export-bad-date")
        if found is None:
            raise ArgumentError(t("export-bad-date", argument=esc(clip(token, 64))))
        days.append(found)
    return (days[0] if days else None), (days[1] if len(days) > 1 else None)
