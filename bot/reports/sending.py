"""Answering /export with the file: the period read from the command, the rows streamed from
the core into a temporary file, the file sent as a document once the read has ended."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from aiogram.types import FSInputFile, Message

from bot.i18n import t
from bot.reports.export import file_name, parse_period, write_csv
from bot.reports.formatting import day
from bot.reports.transactions import ArgumentError
from core.auth import Admin
from core.ledger_views import (
    ExportTooLarge,
    LedgerReports,
    Period,
    PeriodError,
)


def period_of(text: str | None, *, today: datetime | None = None) -> Period:
    """Raises ArgumentError (one sentence for the sender)."""
    since, until = parse_period(text)
    now = today or datetime.now(UTC)
    try:
        return Period.of(since, until, today=now.date())
    except PeriodError as exc:
        if exc.reason == "order":
            raise ArgumentError(
                t("export-order", since=day(exc.params["since"]), until=day(exc.params["until"]))
            ) from None
        raise ArgumentError(t("export-too-long", days=exc.params["max_days"])) from None


async def send_export(
    message: Message,
    args: str | None,
    reports: LedgerReports,
    *,
    own: int | None = None,
    admin: Admin | None = None,
) -> None:
    """``own``: the sender's users.id (their own rows); ``admin``: the gate's proof (every user's
    rows). Raises ArgumentError."""
    period = period_of(args)
    since, until = day(period.since), day(period.until)
    with tempfile.TemporaryDirectory(prefix="paybot-export-") as folder:
        path = Path(folder) / file_name(period.since, period.until)
        try:
            if own is not None:
                opened = reports.export_own(period, user_id=own)
            else:
                assert admin is not None
                opened = reports.export_all(period, admin=admin)
            async with opened as export:
                count = await write_csv(export, path) if export.rows else 0
        except ExportTooLarge as exc:
            raise ArgumentError(t("export-too-large", rows=exc.rows, limit=exc.limit)) from None
        if count == 0:
            await message.answer(t("export-empty", since=since, until=until))
            return
        caption = t(
            "export-caption-own" if own is not None else "export-caption-all",
            since=since,
            until=until,
            count=count,
        )
        await message.answer_document(FSInputFile(path, filename=path.name), caption=caption)
