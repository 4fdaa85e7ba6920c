"""Admin views in the admin chat: /transactions (with page buttons), /export (the ledger of a
period as a CSV file) and the admins' /help.

Gated like the rest of bot.handlers.admin: the router filters let only admins in the admin chat
through and hand each handler the ``admin`` proof core requires. The same commands and page
buttons from anyone else are refused politely, and a page button whose data does not name a page
(forged, stale) changes nothing and says so.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot import texts
from bot.callbacks import AdminTransactionsCallback, LedgerPageDirection
from bot.handlers.admin.access import admin_callback, admin_chat_message, admin_message
from bot.handlers.common import acknowledge, edit_in_place
from bot.i18n import t
from bot.reports.help import admin_help
from bot.reports.sending import send_export
from bot.reports.transactions import (
    ArgumentError,
    page_buttons,
    page_text,
    parse_arguments,
    since_of,
    type_of,
)
from core.auth import Admin
from core.errors import NotFound
from core.ledger_views import LedgerReports, TransactionFilter

COMMANDS = ("transactions", "export", "help")


async def help_command(message: Message) -> None:
    await message.answer(admin_help())


async def transactions_command(
    message: Message, command: CommandObject, admin: Admin, ledger_reports: LedgerReports
) -> None:
    try:
        args = parse_arguments(command.args)
    except ArgumentError as exc:
        await message.answer(str(exc))
        return
    user: int | None = None
    if args.user is not None:
        try:
            user = await ledger_reports.user_telegram_id(args.user, admin=admin)
        except NotFound:
            await message.answer(t("transactions-user-not-found", user=args.user))
            return
    wanted = TransactionFilter(telegram_id=user, type=args.type, since=args.since)
    page = await ledger_reports.transactions(wanted, admin=admin)
    await message.answer(
        page_text(page, user, args.type, args.since),
        reply_markup=page_buttons(page, user, args.type, args.since),
    )


async def transactions_page(
    callback: CallbackQuery,
    callback_data: AdminTransactionsCallback,
    admin: Admin,
    ledger_reports: LedgerReports,
) -> None:
    """Edits the list in place. The data is only a hint: a page that is not there (a forged
    cursor or date, rows gone from the filter) is refused and nothing changes."""
    try:
        since = since_of(callback_data.since)
    except ValueError:
        await acknowledge(callback, t("transactions-page-gone"), alert=True)
        return
    kind = type_of(callback_data.type)
    wanted = TransactionFilter(telegram_id=callback_data.user, type=kind, since=since)
    newer = callback_data.direction is LedgerPageDirection.NEWER
    page = await ledger_reports.transactions(
        wanted,
        admin=admin,
        before=None if newer else callback_data.cursor,
        after=callback_data.cursor if newer else None,
    )
    if not page.rows or not isinstance(callback.message, Message):
        await acknowledge(callback, t("transactions-page-gone"), alert=True)
        return
    await acknowledge(callback)
    await edit_in_place(
        callback.message,
        page_text(page, callback_data.user, kind, since),
        page_buttons(page, callback_data.user, kind, since),
    )


async def export_command(
    message: Message, command: CommandObject, admin: Admin, ledger_reports: LedgerReports
) -> None:
    try:
        await send_export(message, command.args, ledger_reports, admin=admin)
    except ArgumentError as exc:
        await message.answer(str(exc))


async def refuse_button(callback: CallbackQuery) -> None:
    await acknowledge(callback, texts.ADMIN_ONLY, alert=True)


async def refuse_message(message: Message) -> None:
    await message.reply(texts.ADMIN_ONLY)


def create_router() -> Router:
    """Goes after the admin gate and before its refusals (see bot.handlers.admin)."""
    router = Router(name=__name__)
    gate = Router(name=f"{__name__}.gate")
    gate.message.filter(admin_message)
    gate.callback_query.filter(admin_callback)
    gate.message.register(help_command, Command("help"))
    gate.message.register(transactions_command, Command("transactions"))
    gate.message.register(export_command, Command("export"))
    gate.callback_query.register(transactions_page, AdminTransactionsCallback.filter())
    refusal = Router(name=f"{__name__}.refusal")
    refusal.message.filter(admin_chat_message)
    refusal.message.register(refuse_message, Command(*COMMANDS))
    # A page button pressed anywhere by anyone but an admin in the admin chat.
    refusal.callback_query.register(refuse_button, AdminTransactionsCallback.filter())
    router.include_routers(gate, refusal)
    return router
