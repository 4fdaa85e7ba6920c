"""Names the handler an exception escaped from, for the error router's log line."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

from bot.aiogram_compat import handler_callback

_NOTE = "paybot handler: "


def handler_of(exc: BaseException) -> str | None:
    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, str) and note.startswith(_NOTE):
            return note.removeprefix(_NOTE)
    return None


class HandlerContext(BaseMiddleware):
    """Inner middleware: the error router runs outside the handler, so the name travels on the
    exception itself (also shown in the logged traceback)."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        except Exception as exc:
            callback = handler_callback(data)
            if callback is not None and handler_of(exc) is None:
                name = getattr(callback, "__qualname__", repr(callback))
                exc.add_note(f"{_NOTE}{getattr(callback, '__module__', '?')}.{name}")
            raise
