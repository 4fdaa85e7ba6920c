"""Routers in the order they are tried."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import (
    balance,
    common,
    deposit,
    export,
    help,
    ids,
    language,
    my_items,
    start,
    withdraw,
)


def get_routers(*features: Router) -> list[Router]:
    """Fresh routers (a Router can belong to one Dispatcher only, and tests build many).

    /cancel comes first so that it beats any flow step that takes free text, then /id, which
    answers in every chat (also in the middle of a flow); ``features`` (the
    deposit, withdrawal and admin routers) go before the fallbacks, which answer whatever nobody
    else took; the error router sees the errors of all of them.
    """
    return [
        common.create_cancel_router(),
        ids.create_router(),
        start.create_router(),
        language.create_router(),
        balance.create_router(),
        help.create_router(),
        export.create_router(),
        *features,
        common.create_fallback_router(),
        common.create_error_router(),
    ]


def user_flows() -> list[Router]:
    """The user's deposit and withdrawal flows and their lists, as ``features``: fresh routers."""
    return [deposit.create_router(), withdraw.create_router(), my_items.create_router()]
