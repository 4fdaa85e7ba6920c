"""/export in a private chat: the user's own transactions of a period as a CSV file. Only dates
are taken: whose history it is comes from the sender, never from the message."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.handlers.common import private_chat
from bot.reports.sending import send_export
from bot.reports.transactions import ArgumentError
from core.db.models import User
from core.ledger_views import LedgerReports


async def export_command(
    message: Message, command: CommandObject, user: User, ledger_reports: LedgerReports
) -> None:
    try:
        await send_export(message, command.args, ledger_reports, own=user.id)
    except ArgumentError as exc:
        await message.answer(str(exc))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(private_chat)
    router.message.register(export_command, Command("export"))
    return router
