"""/start, /help, /language, /id, the main menu and the command menu."""

from __future__ import annotations

from decimal import Decimal

from bot.i18n import t
from bot.texts.common import LazyCommands, esc, usd

USER_COMMANDS = LazyCommands(
    (
        "start",
        "balance",
        "history",
        "export",
        "deposit",
        "withdraw",
        "deposits",
        "withdrawals",
        "language",
        "cancel",
        "help",
    ),
    "command",
)


def welcome(first_name: str | None, balance: Decimal) -> str:
    if first_name:
        return t("start-welcome-named", name=esc(first_name), balance=usd(balance))
    return t("start-welcome", balance=usd(balance))


def chat_ids(chat_id: int, is_group: bool, user_id: int | None) -> str:
    """/id: what an operator puts in telegram.admin_chat_id and telegram.admin_ids."""
    rows = [t("ids-chat", chat_id=str(chat_id))]
    if is_group:
        rows.append(t("ids-group-hint"))
    if user_id is None:
        rows.append(t("ids-anonymous"))
    else:
        rows.append(t("ids-user", user_id=str(user_id)))
    return "\n".join(rows)


def language_changed() -> str:
    """Said in the language just chosen."""
    return t("language-changed", language=t("language-name"))


def menu(balance: Decimal) -> str:
    """The main menu reached with its button from a step (the step is left)."""
    return t("start-menu", balance=usd(balance))
