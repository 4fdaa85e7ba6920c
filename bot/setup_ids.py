"""``python -m bot ids``: answer /id in any chat with nothing configured but the bot token, so
an operator can learn the admin group's chat id and the admins' user ids before the first
``run`` (which needs them). Each answer is also printed on stdout."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable

from aiogram import Dispatcher
from aiogram.exceptions import TelegramUnauthorizedError

from bot.factory import create_bot
from bot.handlers import ids
from bot.runtime import UpdatePolling
from core.config import TelegramSettings
from core.errors import ConfigError
from core.exit_codes import ExitCode


async def serve_ids(
    settings: TelegramSettings,
    stop: asyncio.Event,
    *,
    echo: Callable[[str], None],
    polling_timeout: int = 25,
) -> None:
    """Answer /id until ``stop`` is set. Raises ConfigError if Telegram refuses the token."""
    bot = create_bot(settings)
    try:
        try:
            me = await bot.me()
        except TelegramUnauthorizedError:
            raise ConfigError(
                "invalid",
                detail="telegram.bot_token: Telegram refused the token (revoked or mistyped)",
            ) from None
        dispatcher = Dispatcher(ids_echo=echo)
        dispatcher.include_router(ids.create_router())
        polling = UpdatePolling(dispatcher, bot, timeout=polling_timeout)
        echo(
            f"@{me.username} answers /id: send it in the admin group (telegram.admin_chat_id)"
            " and privately from each admin (telegram.admin_ids). Ctrl-C to stop."
        )
        task = asyncio.create_task(polling.run(stop))
        await stop.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if polling.handlers:
            await asyncio.wait(polling.handlers, timeout=5)
        await polling.confirm()
    finally:
        await bot.session.close()


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def run_ids(settings: TelegramSettings) -> ExitCode:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await serve_ids(settings, stop, echo=_stdout)
    except ConfigError as exc:
        sys.stderr.write(f"paybot: configuration error\n{exc.params.get('detail', exc)}\n")
        return ExitCode.CONFIG
    return ExitCode.OK
