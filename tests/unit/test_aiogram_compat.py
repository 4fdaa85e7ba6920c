"""Each reach-in of bot/aiogram_compat.py (and BotSession's use of create_session) against the
installed aiogram: an upgrade that changes what they rely on fails here (UPGRADING.md)."""

from __future__ import annotations

import gc
import inspect
import json
import re
import time
import weakref
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher, Router, methods
from aiogram.methods import GetMyShortDescription, SendMessage, TelegramMethod
from aiogram.types import Update

from bot import aiogram_compat
from bot.aiogram_compat import (
    api_method_name,
    handler_accepts,
    handler_callback,
    response_model,
)
from bot.factory import BotSession
from tests.fakes.telegram import FakeTelegram

TOKEN = "42:TEST-token-never-sent"


def test_every_method_has_its_bot_api_name() -> None:
    found = [
        cls
        for cls in vars(methods).values()
        if inspect.isclass(cls) and issubclass(cls, TelegramMethod) and cls is not TelegramMethod
    ]
    assert len(found) > 100
    for cls in found:
        assert api_method_name(cls) == cls.__name__[0].lower() + cls.__name__[1:]
    assert api_method_name(SendMessage(chat_id=1, text="x")) == "sendMessage"


def _reply(method: TelegramMethod[Any], result: Any) -> Any:
    """aiogram's own parsing of a Telegram reply (BaseSession.check_response)."""
    session = BotSession()
    return session.check_response(
        Bot(TOKEN, session=session), method, 200, json.dumps({"ok": True, "result": result})
    )


def test_the_pinned_model_is_the_one_aiogram_validates_replies_with() -> None:
    method = SendMessage(chat_id=1, text="hi")
    pinned = response_model(method)
    gc.collect()
    message = {"message_id": 7, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "hi"}
    reply = _reply(method, message)
    assert type(reply) is pinned
    assert reply.result.message_id == 7


def test_pydantic_still_drops_unpinned_models() -> None:
    """If this fails, pydantic keeps the models itself: PinResponseModels can go."""
    model = weakref.ref(response_model(GetMyShortDescription()))
    gc.collect()
    assert model() is None


async def _chosen_handler(handler: Any) -> dict[str, Any]:
    """What handler_callback/handler_accepts see for a real update dispatched to ``handler``."""
    seen: dict[str, Any] = {}
    router = Router()
    router.message.register(handler)

    async def spy(inner: Any, event: Any, data: dict[str, Any]) -> Any:
        seen["callback"] = handler_callback(data)
        seen["session"] = handler_accepts(data, "session")
        if seen["session"]:
            data["session"] = "a session"
        return await inner(event, data)

    router.message.middleware(spy)
    dp = Dispatcher()
    dp.include_router(router)
    update = Update.model_validate(
        {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 5, "type": "private"},
                "from": {"id": 5, "is_bot": False, "first_name": "A"},
                "text": "hello",
            },
        }
    )
    bot = Bot(TOKEN, session=BotSession())
    await dp.feed_update(bot, update)
    await bot.session.close()
    return seen


async def test_the_chosen_handler_and_its_arguments_are_seen() -> None:
    async def plain(message: Any) -> None: ...

    async def reads(message: Any, session: Any) -> None: ...

    async def anything(message: Any, **kwargs: Any) -> None: ...

    for handler, takes in ((plain, False), (reads, True), (anything, True)):
        seen = await _chosen_handler(handler)
        assert seen == {"callback": handler, "session": takes}, handler.__name__


def test_outside_a_handler_nothing_is_known() -> None:
    assert handler_callback({}) is None
    assert handler_accepts({}, "session") is True


async def test_bot_session_closes_its_http_client_without_the_tls_wait() -> None:
    async with FakeTelegram() as tg:
        session = BotSession(api=tg.api_server)
        bot = Bot(tg.token, session=session)
        assert (await bot.get_me()).is_bot  # aiogram opened its client through create_session
        started = time.perf_counter()
        await session.close()
        assert time.perf_counter() - started < 0.2  # aiogram's own close() waits 0.25 s
        assert (await bot.get_me()).is_bot  # and a closed session opens a new client
        await session.close()


def test_upgrading_md_names_every_reach_in_and_only_real_tests() -> None:
    root = Path(__file__).resolve().parents[2]
    checklist = (root / "UPGRADING.md").read_text(encoding="utf-8")
    for name, member in vars(aiogram_compat).items():
        if inspect.isfunction(member) and member.__module__ == aiogram_compat.__name__:
            assert name.startswith("_") or f"`{name}`" in checklist, name
    tests = "".join(p.read_text(encoding="utf-8") for p in root.glob("tests/**/test_*.py"))
    for named in re.findall(r"`(test_[a-z_]+)`", checklist):
        assert f"def {named}(" in tests, named
