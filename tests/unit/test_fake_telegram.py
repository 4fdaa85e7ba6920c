"""The fake Bot API server, driven by the real aiogram Bot/Dispatcher over HTTP."""

from __future__ import annotations

import asyncio
import struct
import time
import zlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from tests.fakes.telegram import BotAPIError, FakeTelegram, parse_html
from tests.support.clock import FakeClock

USER = 1001
GROUP = -1001234567890


def png(width: int = 4, height: int = 3) -> bytes:
    raw = b"".join(b"\x00" + b"\x10\x20\x30" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=d, callback_data=d)] for d in data]
    )


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake
        assert fake.internal_errors == []


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with tg.make_bot() as bot:
        yield bot


async def test_get_me_wrong_token_unknown_method_and_encodings(tg: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (tg.bot_id, True, "paybot_test_bot")

    async with Bot("42:not-the-token", session=tg.make_session()) as stranger:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()

    tg.add_chat(USER)
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    async with aiohttp.ClientSession() as http:
        url = f"{tg.api_base}/bot{tg.token}"
        async with http.post(f"{url}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        # JSON body with a nested object, and urlencoded with a JSON-encoded field
        async with http.post(
            f"{url}/sendMessage", json={"chat_id": USER, "text": "json", "reply_markup": markup}
        ) as resp:
            body = await resp.json()
            assert body["ok"] and body["result"]["reply_markup"] == markup
        async with http.post(
            f"{url}/SENDMESSAGE",  # method names are case-insensitive
            data={
                "chat_id": str(USER),
                "text": "form",
                "reply_markup": '{"remove_keyboard":true}',
            },
        ) as resp:
            assert (await resp.json())["result"]["text"] == "form"

    form_call = tg.calls("sendMessage")[-1]
    assert form_call.chat_id == USER
    assert form_call.params["reply_markup"] == {"remove_keyboard": True}


async def test_dispatcher_polling_end_to_end(tg: FakeTelegram) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("Welcome, <b>friend</b>!", reply_markup=keyboard("pay:1"))

    @router.callback_query(F.data == "pay:1")
    async def pay(callback: CallbackQuery) -> None:
        await callback.answer("Paid")
        assert isinstance(callback.message, Message)
        await callback.message.edit_text("Payment confirmed")

    dp = Dispatcher()
    dp.include_router(router)
    bot = tg.make_bot(default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    polling = asyncio.create_task(
        dp.start_polling(bot, polling_timeout=1, handle_signals=False)  # closes the bot session
    )
    try:
        start_update = tg.send_text(USER, "/start", username="alice")
        welcome = await tg.wait_for_message(USER, contains="Welcome")
        assert welcome["text"] == "Welcome, friend!"  # HTML parsed
        assert welcome["entities"] == [{"type": "bold", "offset": 9, "length": 6}]
        assert welcome["from"]["id"] == tg.bot_id
        assert welcome["message_id"] == start_update["message"]["message_id"] + 1

        query_id = tg.press_button(USER, welcome["message_id"], USER, "pay:1")
        edit = await tg.wait_for(lambda c: c.method == "editMessageText" and c.ok)
        assert tg.callback_answer(query_id) == {"callback_query_id": query_id, "text": "Paid"}
        assert edit.result["text"] == "Payment confirmed"
        state = tg.messages[USER][welcome["message_id"]]
        assert state.text == "Payment confirmed"
        assert state.reply_markup is None  # editing without reply_markup drops the keyboard

        # aiogram confirms through the next getUpdates offset: nothing is redelivered
        await tg.wait_confirmed(start_update["update_id"] + 1)
        assert tg.pending_updates == 0
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)
    allowed = [c.params.get("allowed_updates") for c in tg.calls("getUpdates")]
    assert allowed[0] == ["callback_query", "message"]
    assert tg.commands() == [{"command": "start", "description": "Start"}]


async def test_message_ids_never_repeat_across_fakes() -> None:
    """The e2e database outlives each test's fake, and rows are keyed by message id (admin
    questions): a new fake must not hand out an id an earlier one did, as a real chat never
    does. An explicit start is kept."""
    async with FakeTelegram() as first, FakeTelegram() as second:
        ids = [
            fake.send_text(USER, f"/start {n}")["message"]["message_id"]
            for fake in (first, second)
            for n in range(3)
        ]
    assert len(set(ids)) == 6
    assert ids[3] > ids[2]
    async with FakeTelegram(first_message_id=1) as fixed:
        assert fixed.send_text(USER, "/start")["message"]["message_id"] == 1


async def test_get_updates_offset_confirmation(tg: FakeTelegram, bot: Bot) -> None:
    ids = [tg.send_text(USER, f"m{i}")["update_id"] for i in range(4)]

    assert [u.update_id for u in await bot.get_updates()] == ids
    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    # not confirmed yet: redelivered
    assert [u.update_id for u in await bot.get_updates()] == ids
    # offset confirms everything below it, for good
    assert [u.update_id for u in await bot.get_updates(offset=ids[2])] == ids[2:]
    assert [u.update_id for u in await bot.get_updates()] == ids[2:]
    assert tg.last_confirmed_update_id == ids[1]
    # a negative offset keeps only the last -offset updates
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == ids[3:]
    assert [u.update_id for u in await bot.get_updates(offset=ids[3] + 1)] == []
    assert tg.pending_updates == 0
    later = tg.send_text(USER, "later")["update_id"]
    assert later == ids[3] + 1
    assert [u.message.text for u in await bot.get_updates() if u.message] == ["later"]


async def test_long_polling_wakes_times_out_and_conflicts(tg: FakeTelegram, bot: Bot) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    tg.send_text(USER, "hello")
    updates = await poll
    assert [u.message.text for u in updates if u.message] == ["hello"]
    assert time.monotonic() - started < 2

    started = time.monotonic()
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=1) == []
    assert 0.9 < time.monotonic() - started < 3

    # a second getUpdates terminates the pending one, like Telegram
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(bot.get_updates(timeout=5))
    with pytest.raises(TelegramConflictError):
        await first
    tg.send_text(USER, "again")
    assert [u.message.text for u in await second if u.message] == ["again"]

    # a webhook blocks polling until deleteWebhook
    await bot.set_webhook("https://example.org/hook")
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == []


async def test_allowed_updates_are_sticky_and_filter_new_updates(
    tg: FakeTelegram, bot: Bot
) -> None:
    tg.add_chat(USER)
    sent = await bot.send_message(USER, "pick", reply_markup=keyboard("a"))
    early = tg.press_button(USER, sent.message_id, USER, "a")
    await bot.get_updates(allowed_updates=["message"], timeout=0)
    late = tg.press_button(USER, sent.message_id, USER, "a")
    tg.send_text(USER, "text")
    kinds = [u.event_type for u in await bot.get_updates()]
    assert kinds == ["callback_query", "message"]  # created before the filter: still delivered
    assert [u["callback_query"]["id"] for u in tg.dropped_updates] == [late]
    assert early != late


async def test_send_photo_upload_file_id_and_url(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_chat(USER)
    data = png(400, 300)
    sent = await bot.send_photo(
        USER,
        BufferedInputFile(data, filename="qr.png"),
        caption="<i>Scan</i> me",
        parse_mode="HTML",
    )
    assert sent.caption == "Scan me"
    assert sent.photo is not None
    assert (sent.photo[-1].width, sent.photo[-1].height) == (400, 300)
    assert [p.width for p in sent.photo] == [90, 320, 400]
    upload = tg.calls("sendPhoto")[0].upload
    assert upload is not None
    assert (upload.size, upload.filename, upload.data) == (len(data), "qr.png", data)
    assert upload.content_type == "application/octet-stream"  # what aiogram sends
    stored = tg.messages[USER][sent.message_id]
    assert stored.upload == upload and stored.caption == "Scan me"

    again = await bot.send_photo(USER, sent.photo[-1].file_id)
    assert again.photo is not None and again.photo[-1].file_id == sent.photo[-1].file_id
    by_url = await bot.send_photo(USER, "https://example.org/qr.png")
    assert by_url.photo

    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(USER, "AgACAgIAAxkDAAnotissued")
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(USER, BufferedInputFile(b"not an image", filename="x.png"))
    assert len(tg.sent_messages(USER)) == 3

    file = await bot.get_file(sent.photo[-1].file_id)
    assert file.file_path is not None
    file_url = f"{tg.api_base}/file/bot{tg.token}/{file.file_path}"
    async with aiohttp.ClientSession() as http, http.get(file_url) as resp:
        assert await resp.read() == data


async def test_retry_after_and_server_errors(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_chat(USER)
    tg.fail_next("sendMessage", code=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as exc_info:
        await bot.send_message(USER, "first")
    assert exc_info.value.retry_after == 3
    await bot.send_message(USER, "second")  # times=1: only the next call failed

    tg.fail_next("sendMessage", code=500)
    with pytest.raises(TelegramServerError):
        await bot.send_message(USER, "x")
    tg.fail_next("sendMessage", code=502, raw_body="<html><h1>502 Bad Gateway</h1></html>")
    with pytest.raises(ClientDecodeError):  # nginx's HTML, as Telegram really does
        await bot.send_message(USER, "x")
    tg.fail_next("getMe", code=0)
    with pytest.raises(TelegramNetworkError):
        await bot.get_me()

    tg.add_chat(USER + 1)
    tg.fail_next("sendMessage", code=429, retry_after=7, chat_id=USER + 1, times=-1)
    await bot.send_message(USER, "other chats are unaffected")
    for _ in range(2):
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(USER + 1, "x")
    tg.clear_faults()
    await bot.send_message(USER + 1, "x")

    outcomes = [(c.ok, c.error_code) for c in tg.calls("sendMessage", chat_id=USER)]
    assert outcomes == [(False, 429), (True, None), (False, 500), (False, 502), (True, None)]
    assert [m["text"] for m in tg.sent_messages(USER)] == ["second", "other chats are unaffected"]


async def test_blocked_user_and_kicked_group(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_chat(USER)
    tg.send_text(USER, "hi", GROUP, chat_type="supergroup")
    tg.block_chat(USER)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER, "x")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_chat_action(USER, "typing")
    tg.block_chat(GROUP)
    with pytest.raises(TelegramForbiddenError, match="kicked from the supergroup chat"):
        await bot.send_message(GROUP, "x")

    kinds = [u.event_type for u in await bot.get_updates()]
    assert kinds.count("my_chat_member") == 2

    tg.send_text(USER, "/start")  # writing to the bot again means it was unblocked
    await bot.send_message(USER, "welcome back")


async def test_edit_semantics(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_chat(USER)
    sent = await bot.send_message(USER, "Status: <b>pending</b>", parse_mode="HTML")
    kb = keyboard("check")
    await bot.edit_message_reply_markup(chat_id=USER, message_id=sent.message_id, reply_markup=kb)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=USER, message_id=sent.message_id, reply_markup=kb
        )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        # same visible text and entities (trailing whitespace is trimmed), same keyboard
        await bot.edit_message_text(
            "Status: <b>pending</b>\n",
            chat_id=USER,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=kb,
        )
    edited = await bot.edit_message_text(
        "Status: pending", chat_id=USER, message_id=sent.message_id, reply_markup=kb
    )
    assert isinstance(edited, Message)
    assert edited.entities is None and edited.edit_date is not None
    assert tg.messages[USER][sent.message_id].raw_text == "Status: pending"

    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=999)
    user_message = tg.send_text(USER, "mine")["message"]["message_id"]
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("x", chat_id=USER, message_id=user_message)

    photo = await bot.send_photo(USER, BufferedInputFile(png(), "p.png"), caption="one")
    with pytest.raises(TelegramBadRequest, match="no text in the message"):
        await bot.edit_message_text("x", chat_id=USER, message_id=photo.message_id)
    await bot.edit_message_caption(chat_id=USER, message_id=photo.message_id, caption="two")
    assert tg.messages[USER][photo.message_id].caption == "two"

    assert await bot.delete_message(USER, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(USER, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("gone", chat_id=USER, message_id=sent.message_id)

    inline_id = tg.add_inline_message("inline")
    assert await bot.edit_message_text("inline 2", inline_message_id=inline_id) is True
    assert tg.inline_message(inline_id).text == "inline 2"


async def test_callback_queries(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_chat(USER)
    sent = await bot.send_message(USER, "pick", reply_markup=keyboard("a", "b"))
    with pytest.raises(ValueError, match="no button"):
        tg.press_button(USER, sent.message_id, USER, "zzz")
    forged = tg.press_button(USER, sent.message_id, USER, "zzz", check_button=False)
    update = (await bot.get_updates())[-1]
    assert update.callback_query is not None
    assert update.callback_query.id == forged
    assert update.callback_query.message is not None
    assert update.callback_query.message.message_id == sent.message_id

    assert await bot.answer_callback_query(forged, text="ok")
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(forged)  # only once
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query("12345")
    tg.callback_query_ttl = 0.0
    stale = tg.press_button(USER, sent.message_id, USER, "b")
    await asyncio.sleep(0.01)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(stale)
    assert tg.callback_answer(stale) is None

    too_long = "x" * 65
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "kb", reply_markup=keyboard(too_long))


def test_parse_html_like_tdlib() -> None:
    assert parse_html("a &lt;b&gt; &amp; &unknown; &#65;") == ("a <b> & &unknown; A", [])
    text, entities = parse_html('🏟 <b>x <a href="https://t.me/x">y</a></b>')
    assert text == "🏟 x y"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 3},
        {"type": "text_link", "offset": 5, "length": 1, "url": "https://t.me/x"},
    ]
    errors = {
        "a < b": 'Unsupported start tag "" at byte offset 2',
        "<br>": 'Unsupported start tag "br" at byte offset 0',
        "🏟 🏟&lt;<abacaba": "Unclosed start tag at byte offset 13",
        "<b>x</i>": 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"',
        "<b>x": 'Can\'t find end tag corresponding to start tag "b"',
        "x</b>": "Unexpected end tag at byte offset 1",
        "<span>x</span>": 'Tag "span" must have class "tg-spoiler" at byte offset 0',
    }
    for source, message in errors.items():
        with pytest.raises(BotAPIError) as exc_info:
            parse_html(source)
        assert exc_info.value.description == f"Bad Request: can't parse entities: {message}"


async def test_text_validation(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_chat(USER)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(USER, "balance < 5 USDT", parse_mode="HTML")
    plain = await bot.send_message(USER, "balance < 5 USDT")
    assert plain.text == "balance < 5 USDT"
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(USER, "  \n ")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "x" * 4097)
    await bot.send_message(USER, "😀" * 2048)  # 4096 UTF-16 code units: the limit
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "😀" * 2049)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(USER + 5, "nobody wrote to the bot from here")
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(USER, "re", reply_to_message_id=999)


async def test_groups_and_privacy_mode(tg: FakeTelegram, bot: Bot) -> None:
    plain = tg.send_text(USER, "just chatting", GROUP, chat_type="supergroup")
    mine = tg.send_text(USER, "/start@paybot_test_bot", GROUP, chat_type="supergroup")
    other = tg.send_text(USER, "/start@other_bot", GROUP, chat_type="supergroup")
    sent = await bot.send_message(GROUP, "Reply with the reason")
    reply = tg.send_text(
        USER, "because", GROUP, chat_type="supergroup", reply_to_message_id=sent.message_id
    )
    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [mine["update_id"], reply["update_id"]]
    assert [u["update_id"] for u in tg.dropped_updates] == [plain["update_id"], other["update_id"]]
    message = updates[0].message
    assert message is not None and message.chat.type == "supergroup"
    assert message.chat.id == GROUP and message.from_user is not None
    assert message.from_user.id == USER
    assert updates[1].message is not None and updates[1].message.reply_to_message is not None
    # message ids are per chat, each chat counting from the fake's own start
    assert tg.send_text(USER, "/start")["message"]["message_id"] == tg.first_message_id
    chat = await bot.get_chat(GROUP)
    assert chat.type == "supergroup"


async def test_flood_limits_are_enforced_by_the_server(tg: FakeTelegram, bot: Bot) -> None:
    tg.enforce_limits = True
    tg.flood_clock = clock = FakeClock()
    tg.add_chat(USER)
    tg.add_chat(GROUP)
    await bot.send_message(USER, "1")
    with pytest.raises(TelegramRetryAfter) as exc_info:
        await bot.send_message(USER, "2")
    assert exc_info.value.retry_after == 1
    tg.private_limit = (1, 0.2)
    clock.advance(0.19)
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(USER, "still inside the window")
    clock.advance(0.02)
    await bot.send_message(USER, "3")

    tg.global_limit = (1000, 1.0)
    for i in range(20):
        await bot.send_message(GROUP, str(i))
    with pytest.raises(TelegramRetryAfter) as exc_info:
        await bot.send_message(GROUP, "21st in a minute")
    assert 55 <= exc_info.value.retry_after <= 60


async def test_wait_helpers_are_event_driven(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_chat(USER)

    async def later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(USER, "done: 42")

    task = asyncio.create_task(later())
    started = time.monotonic()
    message = await tg.wait_for_message(USER, contains="done", timeout=2)
    assert message["text"] == "done: 42"
    assert time.monotonic() - started < 1
    await task

    # already recorded messages match at once, unless `since` says otherwise
    assert (await tg.wait_for_message(USER, contains="42"))["text"] == "done: 42"
    mark = tg.mark()
    with pytest.raises(TimeoutError, match="sendMessage"):
        await tg.wait_for_message(USER, contains="42", timeout=0.1, since=mark)
    sending = asyncio.create_task(bot.send_message(USER, "x"))
    with pytest.raises(ZeroDivisionError):  # a failing predicate reaches the waiting test
        await tg.wait_for(lambda c: 1 / 0 > 0, since=mark)
    await sending

    assert len(tg.calls(chat_id=USER)) == 2
    tg.clear()
    assert tg.calls() == [] and tg.sent_messages(USER) == []
    assert tg.messages[USER]  # chat state survives clear()


async def test_many_concurrent_users(tg: FakeTelegram) -> None:
    users = range(5000, 5050)
    for user in users:
        tg.send_text(user, "/start")
    async with tg.make_bot() as bot:

        async def user_flow(user: int) -> None:
            for step in range(10):
                await bot.send_message(user, f"step {step}")

        started = time.monotonic()
        await asyncio.gather(*(user_flow(u) for u in users))
        elapsed = time.monotonic() - started
    assert len(tg.calls("sendMessage")) == 500
    first = tg.first_message_id
    assert [m["message_id"] for m in tg.sent_messages(5000)] == list(range(first + 1, first + 11))
    assert elapsed < 10


async def test_request_entity_too_large() -> None:
    fake = FakeTelegram()
    fake.max_request_size = 10_000
    async with fake, fake.make_bot() as bot:
        fake.add_chat(USER)
        with pytest.raises(TelegramEntityTooLarge):
            await bot.send_photo(USER, BufferedInputFile(png() + bytes(20_000), "big.png"))
        assert fake.calls("sendPhoto")[0].error_code == 413
