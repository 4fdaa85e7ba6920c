"""A faithful fake of the Telegram Bot API: a real aiohttp server on 127.0.0.1.

The real aiogram ``Bot`` talks to it over HTTP, so request encoding (aiogram sends
``multipart/form-data`` with nested objects JSON-encoded and files as ``attach://`` parts),
error mapping (429 → ``TelegramRetryAfter``, 403 → ``TelegramForbiddenError`` ...) and long
polling are exercised for real.

    async with FakeTelegram() as tg:
        async with tg.make_bot() as bot:            # or Bot(token, session=tg.make_session())
            tg.send_text(42, "/start")              # a user writes to the bot
            await dp.start_polling(bot, ...)        # or bot.get_updates(...)
            msg = await tg.wait_for_message(42, contains="Welcome")
            qid = tg.press_button(42, msg["message_id"], 42, "pay:1")
            await tg.wait_for(lambda c: c.method == "answerCallbackQuery")

What Telegram does and this fake reproduces (deliberately, because production bots trip on it):

* ``getUpdates``: ``offset`` confirms (and forgets) every update below it, a negative offset
  keeps only the last ``-offset``; ``timeout`` holds the request until an update arrives; a
  second concurrent ``getUpdates`` terminates the first with 409; ``allowed_updates`` is sticky
  and filters updates created *after* it was set; a set webhook makes getUpdates answer 409.
* Text: HTML ``parse_mode`` is parsed like tdlib (same "can't parse entities" messages, entities
  with UTF-16 offsets), leading/trailing whitespace is trimmed, 4096/1024 limits, empty text.
* Edits: "message to edit not found", "message is not modified" (text, entities and inline
  keyboard compared), editing text without ``reply_markup`` removes the inline keyboard.
* Chats must be known (the user wrote to the bot, or ``add_chat``): otherwise "chat not found".
* Groups: privacy mode (default on) drops group messages that are neither commands nor replies
  to the bot.
* Callback queries can be answered once, within ``callback_query_ttl`` seconds.
* ``sendPhoto`` accepts an upload (must be a real image: PNG/JPEG/GIF/WEBP/BMP), a file_id the
  fake issued, or an http(s) URL; unknown file ids are rejected.

Not emulated: MarkdownV2/Markdown parsing (text is taken as is), channels, inline mode beyond
editing an inline message registered with ``add_inline_message``, media other than photos and
documents (``sendDocument`` takes an upload and keeps it on the stored message).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import math
import re
import secrets
import struct
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

__all__ = [
    "DEFAULT_TOKEN",
    "BotAPIError",
    "Call",
    "FakeTelegram",
    "StoredMessage",
    "Upload",
    "parse_html",
]

Json = dict[str, Any]

DEFAULT_TOKEN: Final = "123456789:AAFakeTelegramTokenForTestsOnly_0123"

MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_REQUEST_SIZE: Final = 50 * 1024 * 1024
MAX_CALLBACK_DATA_BYTES: Final = 64

NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD: Final = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
POLL_CONFLICT: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
WEBHOOK_CONFLICT: Final = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SEND_METHODS: Final = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
MAX_DOCUMENT_BYTES: Final = 50 * 1024 * 1024  # what a bot may upload
_NOT_DEFAULT_UPDATES: Final = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
_CHAT_ACTIONS: Final = _names(
    "typing upload_photo record_video upload_video record_voice upload_voice "
    "upload_document choose_sticker find_location record_video_note upload_video_note"
)
_BUTTON_ACTIONS: Final = _names(
    "url callback_data web_app login_url switch_inline_query "
    "switch_inline_query_current_chat switch_inline_query_chosen_chat copy_text "
    "callback_game pay"
)

# How form/query values are decoded: aiogram JSON-encodes every non-string value, Telegram
# decodes by its schema. Anything not listed stays a string (text, caption, data, ...).
_JSON_FIELDS: Final = _names(
    "reply_markup entities caption_entities allowed_updates commands scope "
    "link_preview_options reply_parameters media results explanation_entities options "
    "menu_button rights permissions prices reaction suggested_post_parameters"
)
_INT_FIELDS: Final = _names(
    "chat_id from_chat_id message_id offset limit timeout reply_to_message_id "
    "message_thread_id direct_messages_topic_id cache_time user_id max_connections "
    "until_date width height duration"
)
_BOOL_FIELDS: Final = _names(
    "show_alert disable_notification protect_content drop_pending_updates "
    "allow_sending_without_reply disable_web_page_preview has_spoiler "
    "show_caption_above_media allow_paid_broadcast revoke_messages"
)


class BotAPIError(Exception):
    """An error answer of the Bot API (``{"ok": false, ...}``)."""

    def __init__(
        self,
        code: int,
        description: str,
        *,
        retry_after: int | None = None,
        raw_body: str | None = None,
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after
        self.raw_body = raw_body

    def body(self) -> Json:
        body: Json = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body

    def response(self) -> web.Response:
        if self.raw_body is not None:
            return web.Response(status=self.code, text=self.raw_body, content_type="text/html")
        return _json_response(self.code, self.body())


def _bad(message: str) -> BotAPIError:
    return BotAPIError(400, f"Bad Request: {message}")


def _too_many(retry_after: int) -> BotAPIError:
    return BotAPIError(
        429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
    )


def _json_response(status: int, body: Any) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body, ensure_ascii=False), content_type="application/json"
    )


# --------------------------------------------------------------------------------------------
# Text: UTF-16 lengths, tdlib-like HTML parsing, bot_command entities
# --------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


_HTML_SPECIAL = re.compile(r"[<&]")
_HTML_ENTITY = re.compile(r"&(?:#([0-9]+)|#[xX]([0-9a-fA-F]+)|([a-zA-Z]+));?")
_HTML_NAMED: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_SPACE: Final = frozenset(" \t\r\n\v\0")
_HTML_TAGS: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_SURROGATE_ERROR: Final = (
    "Text contains invalid Unicode characters after decoding HTML entities, "
    "check for unmatched surrogate code units"
)


def _entity_error(message: str) -> BotAPIError:
    return _bad(f"can't parse entities: {message}")


def _decode_html_entity(src: str, pos: int) -> tuple[str, int] | None:
    """Decode the entity at ``src[pos] == "&"`` like tdlib; None when it is a literal '&'."""
    match = _HTML_ENTITY.match(src, pos)
    if match is None:
        return None
    dec, hexa, name = match.groups()
    if name is not None:
        char = _HTML_NAMED.get(name)
        return None if char is None else (char, match.end())
    digits = dec if dec is not None else hexa
    value = int(digits[:10], 10 if dec is not None else 16)
    if value == 0 or value > 0x10FFFF:
        return None
    if 0xD800 <= value <= 0xDFFF:
        raise _entity_error(_SURROGATE_ERROR)
    return chr(value), match.end()


def _decode_html_entities(text: str) -> str:
    out: list[str] = []
    i = 0
    while (j := text.find("&", i)) >= 0:
        out.append(text[i:j])
        decoded = _decode_html_entity(text, j)
        if decoded is None:
            out.append("&")
            i = j + 1
        else:
            out.append(decoded[0])
            i = decoded[1]
    out.append(text[i:])
    return "".join(out)


def _normalize_url(url: str) -> str | None:
    url = url.strip()
    if not url:
        return None
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url):
        return url
    return f"http://{url}"


def parse_html(src: str) -> tuple[str, list[Json]]:
    """Parse Telegram's HTML subset into (plain text, entities) the way tdlib does.

    Raises ``BotAPIError(400, "Bad Request: can't parse entities: ...")`` with tdlib's wording
    and UTF-8 byte offsets. Entity offsets/lengths are in UTF-16 code units.
    """
    out: list[str] = []
    u16 = 0
    entities: list[Json] = []
    # (tag name, attributes, utf16 offset where the tag's content starts)
    stack: list[tuple[str, dict[str, str], int]] = []
    n = len(src)
    i = 0

    def byte_offset(pos: int) -> int:
        return len(src[:pos].encode("utf-8"))

    while i < n:
        special = _HTML_SPECIAL.search(src, i)
        j = special.start() if special is not None else n
        if j > i:
            chunk = src[i:j]
            out.append(chunk)
            u16 += utf16_len(chunk)
            i = j
            if i >= n:
                break
        if src[i] == "&":
            decoded = _decode_html_entity(src, i)
            if decoded is None:
                out.append("&")
                u16 += 1
                i += 1
            else:
                out.append(decoded[0])
                u16 += utf16_len(decoded[0])
                i = decoded[1]
            continue

        begin = i
        i += 1
        if i >= n or src[i] != "/":
            # start tag
            while i < n and src[i] not in _HTML_SPACE and src[i] != ">":
                i += 1
            if i >= n:
                raise _entity_error(f"Unclosed start tag at byte offset {byte_offset(begin)}")
            name = src[begin + 1 : i].lower()
            if name not in _HTML_TAGS:
                raise _entity_error(
                    f'Unsupported start tag "{name}" at byte offset {byte_offset(begin)}'
                )
            attrs: dict[str, str] = {}
            while True:
                while i < n and src[i] in _HTML_SPACE:
                    i += 1
                if i < n and src[i] == ">":
                    break
                attr_begin = i
                while i < n and src[i] not in _HTML_SPACE and src[i] != "=":
                    i += 1
                attr = src[attr_begin:i]
                if not attr:
                    raise _entity_error(
                        f'Empty attribute name in the tag "{name}" '
                        f"at byte offset {byte_offset(begin)}"
                    )
                while i < n and src[i] in _HTML_SPACE:
                    i += 1
                if i >= n or src[i] != "=":
                    raise _entity_error(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{name}" at byte offset {byte_offset(begin)}'
                    )
                i += 1
                while i < n and src[i] in _HTML_SPACE:
                    i += 1
                if i >= n:
                    raise _entity_error(
                        f'Unclosed start tag "{name}" at byte offset {byte_offset(begin)}'
                    )
                if src[i] in "'\"":
                    close = src.find(src[i], i + 1)
                    if close < 0:
                        raise _entity_error(
                            f"Unclosed start tag at byte offset {byte_offset(begin)}"
                        )
                    value = _decode_html_entities(src[i + 1 : close])
                    i = close + 1
                else:
                    value_begin = i
                    while i < n and src[i].isascii() and (src[i].isalnum() or src[i] in ".-"):
                        i += 1
                    value = src[value_begin:i]
                    if i >= n:
                        raise _entity_error(
                            f'Unclosed start tag "{name}" at byte offset {byte_offset(begin)}'
                        )
                    if src[i] not in _HTML_SPACE and src[i] != ">":
                        raise _entity_error(
                            f"Unexpected end of name token at byte offset {byte_offset(i)}"
                        )
                attrs[attr.lower()] = value
            i += 1  # '>'
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise _entity_error(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}'
                )
            if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
                raise _entity_error("Invalid custom emoji identifier specified")
            stack.append((name, attrs, u16))
            continue

        # end tag
        if not stack:
            raise _entity_error(f"Unexpected end tag at byte offset {byte_offset(begin)}")
        i += 1
        name_begin = i
        while i < n and src[i] not in _HTML_SPACE and src[i] != ">":
            i += 1
        end_name = src[name_begin:i].lower()
        while i < n and src[i] in _HTML_SPACE:
            i += 1
        if i >= n or src[i] != ">":
            raise _entity_error(f"Unclosed end tag at byte offset {byte_offset(begin)}")
        i += 1
        open_name, attrs, start = stack.pop()
        if end_name and end_name != open_name:
            raise _entity_error(
                f"Unmatched end tag at byte offset {byte_offset(begin)}, "
                f'expected "</{open_name}>", found "</{end_name}>"'
            )
        length = u16 - start
        if length <= 0:
            continue
        entity: Json = {"type": _HTML_TAGS[open_name], "offset": start, "length": length}
        if open_name == "a":
            url = _normalize_url(attrs.get("href", ""))
            if url is None:
                continue
            entity["url"] = url
        elif open_name == "code":
            language = attrs.get("class", "")
            if language.startswith("language-") and stack and stack[-1][0] == "pre":
                stack[-1][1]["_language"] = language.removeprefix("language-")
                continue
        elif open_name == "pre" and attrs.get("_language"):
            entity["language"] = attrs["_language"]
        elif open_name == "blockquote" and "expandable" in attrs:
            entity["type"] = "expandable_blockquote"
        elif open_name == "tg-emoji":
            entity["custom_emoji_id"] = attrs["emoji-id"]
        entities.append(entity)

    if stack:
        raise _entity_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _trim(text: str, entities: list[Json]) -> tuple[str, list[Json]]:
    """Telegram strips leading and trailing whitespace and clips the entities accordingly."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    clipped: list[Json] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            clipped.append({**entity, "offset": start, "length": end - start})
    return stripped, clipped


_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@/])")


def command_entities(text: str) -> list[Json]:
    """``bot_command`` entities Telegram attaches to a user's message."""
    return [
        {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m[0])}
        for m in _COMMAND.finditer(text)
    ]


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------

_JPEG_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_info(data: bytes) -> tuple[str, int, int] | None:
    """(mime type, width, height) of a PNG/JPEG/GIF/WEBP/BMP image, None when not an image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "image/png", width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return "image/gif", width, height
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 <= len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in _JPEG_SOF:
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return "image/jpeg", width, height
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                i += 1 if marker == 0xFF else 2
                continue
            (segment,) = struct.unpack(">H", data[i + 2 : i + 4])
            i += 2 + segment
        return None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", 512, 512
    if data[:2] == b"BM" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return "image/bmp", width, abs(height)
    return None


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Upload:
    """A file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str
    size: int
    data: bytes


@dataclass(slots=True)
class Call:
    """One Bot API request as the fake received and answered it."""

    method: str
    params: Json
    chat_id: int | str | None
    at: float  # time.monotonic() when answered
    seq: int = 0
    files: dict[str, Upload] = field(default_factory=dict)
    result: Any = None
    error_code: int | None = None
    description: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_code is None

    @property
    def upload(self) -> Upload | None:
        """The (first) file uploaded with this call, if any."""
        return next(iter(self.files.values()), None)

    def __repr__(self) -> str:
        outcome = "ok" if self.ok else f"{self.error_code} {self.description}"
        shown = {k: v for k, v in self.params.items() if k in ("text", "caption", "message_id")}
        return f"Call(#{self.seq} {self.method} chat={self.chat_id} {shown} -> {outcome})"


@dataclass(slots=True)
class StoredMessage:
    """Current state of a message in a chat (after edits)."""

    chat: Json
    message_id: int
    sender: Json
    from_bot: bool
    date: int
    text: str | None = None  # what the user sees (HTML parsed, trimmed)
    entities: list[Json] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[Json] = field(default_factory=list)
    photo: list[Json] | None = None
    document: Json | None = None
    reply_markup: Json | None = None  # as sent (any keyboard kind)
    raw_text: str | None = None  # text/caption as the bot sent it (e.g. with HTML tags)
    parse_mode: str | None = None
    edit_date: int | None = None
    reply_to: StoredMessage | None = None
    upload: Upload | None = None
    inline_message_id: str | None = None

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    @property
    def inline_keyboard(self) -> Json | None:
        """The reply_markup Telegram shows on the message: inline keyboards only."""
        markup = self.reply_markup
        if markup is not None and markup.get("inline_keyboard"):
            return markup
        return None

    def callback_data(self) -> list[str]:
        keyboard = self.inline_keyboard
        if keyboard is None:
            return []
        return [
            button["callback_data"]
            for row in keyboard["inline_keyboard"]
            for button in row
            if "callback_data" in button
        ]

    def to_json(self, *, with_reply: bool = True) -> Json:
        message: Json = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
        }
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        if with_reply and self.reply_to is not None:
            message["reply_to_message"] = self.reply_to.to_json(with_reply=False)
        if self.text is not None:
            message["text"] = self.text
            if self.entities:
                message["entities"] = self.entities
        if self.document is not None:
            message["document"] = self.document
        if self.photo is not None or self.document is not None:
            if self.photo is not None:
                message["photo"] = self.photo
            if self.caption:
                message["caption"] = self.caption
                if self.caption_entities:
                    message["caption_entities"] = self.caption_entities
        keyboard = self.inline_keyboard
        if keyboard is not None:
            message["reply_markup"] = keyboard
        return message


@dataclass(slots=True)
class _StoredFile:
    file_id: str
    unique_id: str
    sizes: list[Json]
    upload: Upload | None
    url: str | None
    path: str


_MESSAGE_ID_RANGES = itertools.count(1, 100_000)


@dataclass(slots=True)
class _Chat:
    obj: Json
    user: Json | None = None  # the user of a private chat
    last_message_id: int = 0
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    flood: deque[float] = field(default_factory=deque)
    blocked: bool = False

    @property
    def id(self) -> int:
        return int(self.obj["id"])

    @property
    def type(self) -> str:
        return str(self.obj["type"])

    def next_message_id(self) -> int:
        self.last_message_id += 1
        return self.last_message_id


@dataclass(slots=True)
class _CallbackQuery:
    created: float
    chat_id: int
    message_id: int
    user_id: int
    data: str
    answered: bool = False


@dataclass(slots=True)
class _Fault:
    chat_id: int | str | None
    code: int
    description: str
    retry_after: int | None
    raw_body: str | None
    remaining: int  # < 0: forever


@dataclass(slots=True)
class _Waiter:
    predicate: Callable[[Call], bool]
    future: asyncio.Future[Call]


class _LoopbackSession(AiohttpSession):
    """aiogram's AiohttpSession without the 250 ms close() sleep meant for TLS shutdown."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def _int(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"wrong parameter value {value!r}") from None


def _decode_value(name: str, value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "replace")
    if not isinstance(value, str):
        return value  # a JSON body is typed already
    if name in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(f"can't parse {name} JSON object") from None
    if name in _INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            return value
    if name in _BOOL_FIELDS:
        return value.strip().lower() in ("true", "1")
    return value


def _window_wait(stamps: deque[float], count: int, window: float, now: float) -> float:
    while stamps and stamps[0] <= now - window:
        stamps.popleft()
    if len(stamps) < count:
        return 0.0
    return stamps[0] + window - now


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class FakeTelegram:
    """Fake Bot API server. Use as ``async with FakeTelegram() as tg``.

    Knobs (attributes, change at any time):
      ``enforce_limits`` per-chat/global flood control (``private_limit`` 1 msg/1 s,
      ``group_limit`` 20 msgs/60 s, ``global_limit`` 30 msgs/1 s; answered with 429);
      ``latency`` seconds added to every request; ``privacy_mode``; ``require_known_chats``;
      ``callback_query_ttl``; ``max_poll_timeout``; ``webhook_url``.
    Faults: ``fail_next`` (errors, dropped connections; ``times=-1`` until ``clear_faults``),
    ``hang_chat`` (requests to a chat get no answer until ``unhang_chat``).
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "paybot_test_bot",
        bot_first_name: str = "PayBot",
        privacy_mode: bool = True,
        require_known_chats: bool = True,
        enforce_limits: bool = False,
        latency: float = 0.0,
        first_update_id: int = 1,
        first_message_id: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        bot_id, sep, secret = token.partition(":")
        if not sep or not bot_id.isdigit() or not secret:
            raise ValueError("token must look like '<digits>:<secret>'")
        self.token = token
        # A real chat's message ids only grow, so a database that outlives this fake (one per
        # test, one database per module) must never see an id again: each fake starts its
        # chats in a range of its own unless told otherwise.
        self.first_message_id = (
            next(_MESSAGE_ID_RANGES) if first_message_id is None else first_message_id
        )
        # What the flood windows are measured by; a test may move its own clock instead.
        self.flood_clock: Callable[[], float] = time.monotonic
        self.bot_id = int(bot_id)
        self.bot_username = bot_username
        self.bot_user: Json = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.privacy_mode = privacy_mode
        self.require_known_chats = require_known_chats
        self.enforce_limits = enforce_limits
        self.private_limit: tuple[int, float] = (1, 1.0)
        self.group_limit: tuple[int, float] = (20, 60.0)
        self.global_limit: tuple[int, float] = (30, 1.0)
        self.latency = latency
        self.callback_query_ttl = 15.0
        self.max_poll_timeout = 50.0
        self.max_request_size = MAX_REQUEST_SIZE  # read when the server starts
        self.webhook_url = ""
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._base = ""
        self._closing = False

        # updates
        self._next_update_id = first_update_id
        self._queue: deque[Json] = deque()
        self._allowed: frozenset[str] | None = None  # None: Telegram's default set
        self._poller: asyncio.Future[str] | None = None
        self.dropped_updates: list[Json] = []
        self.internal_errors: list[Exception] = []
        self.last_confirmed_update_id = first_update_id - 1

        # state
        self._chats: dict[int, _Chat] = {}
        self._chats_by_username: dict[str, int] = {}
        self._users: dict[int, Json] = {}
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._inline: dict[str, StoredMessage] = {}
        self._callback_queries: dict[str, _CallbackQuery] = {}
        self._callback_answers: dict[str, Json] = {}
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)
        self._commands: dict[tuple[str, str], list[Json]] = {}
        self._global_flood: deque[float] = deque()
        self._faults: dict[str | None, list[_Fault]] = {}
        self._hung: dict[int | str, asyncio.Event] = {}
        self.hanging = 0  # requests held by hang_chat right now

        # recording
        self._last_seq = 0
        self._calls: list[Call] = []
        self._by_method: dict[str, list[Call]] = {}
        self._by_chat: dict[int | str, list[Call]] = {}
        self._sent_by_chat: dict[int | str, list[Call]] = {}
        self._waiters: list[_Waiter] = []
        self._confirm_waiters: list[tuple[int, asyncio.Future[None]]] = []

        handlers: dict[str, Callable[[Json, dict[str, Upload]], Any]] = {
            "getMe": self._get_me,
            "logOut": lambda p, f: True,
            "close": lambda p, f: True,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "deleteMessage": self._delete_message,
            "sendChatAction": self._send_chat_action,
            "getChat": self._get_chat,
            "getFile": self._get_file,
        }
        self._methods = {name.lower(): (name, fn) for name, fn in handlers.items()}
        self._methods["getupdates"] = ("getUpdates", lambda p, f: None)

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=self.max_request_size)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._base = f"http://{host}:{port}"

    async def close(self) -> None:
        self._closing = True
        for released in self._hung.values():
            released.set()
        if self._poller is not None and not self._poller.done():
            self._poller.set_result("closed")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def api_base(self) -> str:
        """Base URL for ``TelegramAPIServer.from_base``, e.g. ``http://127.0.0.1:PORT``."""
        if not self._base:
            raise RuntimeError("FakeTelegram is not started")
        return self._base

    @property
    def api_server(self) -> TelegramAPIServer:
        return TelegramAPIServer.from_base(self.api_base)

    def make_session(self, **kwargs: Any) -> AiohttpSession:
        """An aiogram AiohttpSession pointed at this server (close it, or the Bot using it)."""
        return _LoopbackSession(api=self.api_server, **kwargs)

    def make_bot(self, **kwargs: Any) -> Bot:
        """``Bot(self.token, session=self.make_session(), **kwargs)``; ``async with`` closes it."""
        return Bot(self.token, session=self.make_session(), **kwargs)

    # ---------------------------------------------------------------- HTTP

    async def _not_found(self, request: web.Request) -> web.Response:
        return _json_response(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    async def _handle_file(self, request: web.Request) -> web.Response:
        stored = self._files_by_path.get(request.match_info["path"])
        if request.match_info["token"] != self.token or stored is None or stored.upload is None:
            return _json_response(
                404, {"ok": False, "error_code": 404, "description": "Not Found"}
            )
        return web.Response(body=stored.upload.data, content_type=stored.upload.content_type)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _json_response(
                401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            )
        entry = self._methods.get(request.match_info["method"].lower())
        if entry is None:
            return _json_response(
                404,
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
            )
        name, handler = entry
        params: Json = {}
        files: dict[str, Upload] = {}
        chat_id: int | str | None = None
        try:
            params, files = await self._read_params(request)
            chat_id = self._chat_key(params.get("chat_id"))
            if self.latency > 0:
                await asyncio.sleep(self.latency)
            if chat_id is not None and chat_id in self._hung and not self._hung[chat_id].is_set():
                await self._hang(chat_id)
                if request.transport is None or request.transport.is_closing():
                    # The client gave up (timed out, or its process died): like a request
                    # Telegram never got, nothing happens.
                    self._record(name, params, files, chat_id, error=BotAPIError(0, "gone"))
                    return web.Response(status=500)
            fault = self._take_fault(name, chat_id)
            if fault is not None and fault.code == 0:
                self._record(name, params, files, chat_id, error=BotAPIError(0, "disconnect"))
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)
            if fault is not None:
                raise BotAPIError(
                    fault.code,
                    fault.description,
                    retry_after=fault.retry_after,
                    raw_body=fault.raw_body,
                )
            if name == "getUpdates":
                result = await self._get_updates(params)
            else:
                result = handler(params, files)
        except BotAPIError as exc:
            self._record(name, params, files, chat_id, error=exc)
            return exc.response()
        except Exception as exc:  # noqa: BLE001
            # A bug in the fake (or a request it cannot represent): make it loud, not a hang.
            self.internal_errors.append(exc)
            error = BotAPIError(500, f"Internal Server Error: fake failed: {exc!r}")
            self._record(name, params, files, chat_id, error=error)
            return error.response()
        self._record(name, params, files, chat_id, result=result)
        return _json_response(200, {"ok": True, "result": result})

    async def _read_params(self, request: web.Request) -> tuple[Json, dict[str, Upload]]:
        raw: dict[str, Any] = dict(request.query)
        files: dict[str, Upload] = {}
        if request.method != "POST" or not request.body_exists:
            return {key: _decode_value(key, value) for key, value in raw.items()}, files
        content_type = request.content_type
        try:
            if content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    raise _bad("can't parse JSON object")
                raw.update(body)
            elif content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        with value.file as fh:
                            data = fh.read()
                        files[key] = Upload(
                            field=key,
                            filename=value.filename,
                            content_type=value.content_type,
                            size=len(data),
                            data=data,
                        )
                    else:
                        raw[key] = value
        except web.HTTPRequestEntityTooLarge:
            raise BotAPIError(413, "Request Entity Too Large") from None
        params = {key: _decode_value(key, value) for key, value in raw.items()}
        return params, files

    # ---------------------------------------------------------------- recording & waiting

    def _record(
        self,
        method: str,
        params: Json,
        files: dict[str, Upload],
        chat_id: int | str | None,
        *,
        result: Any = None,
        error: BotAPIError | None = None,
    ) -> Call:
        call = Call(
            method=method,
            params=params,
            chat_id=chat_id,
            at=time.monotonic(),
            seq=self._last_seq + 1,
            files=files,
            result=result,
            error_code=None if error is None else error.code,
            description=None if error is None else error.description,
        )
        self._last_seq = call.seq
        self._calls.append(call)
        self._by_method.setdefault(method, []).append(call)
        if chat_id is not None:
            self._by_chat.setdefault(chat_id, []).append(call)
            if error is None and method in _SEND_METHODS:
                self._sent_by_chat.setdefault(chat_id, []).append(call)
        if self._waiters:
            keep: list[_Waiter] = []
            for waiter in self._waiters:
                if waiter.future.done():
                    continue
                try:
                    matched = waiter.predicate(call)
                except Exception as exc:  # noqa: BLE001 - the predicate's error goes to the waiting test
                    waiter.future.set_exception(exc)
                    continue
                if matched:
                    waiter.future.set_result(call)
                else:
                    keep.append(waiter)
            self._waiters = keep
        return call

    def mark(self) -> int:
        """A position in the call log: pass it as ``since=`` to wait only for later calls."""
        return self._last_seq + 1

    def calls(self, method: str | None = None, chat_id: int | str | None = None) -> list[Call]:
        """Recorded calls in order, optionally only of one method and/or one chat."""
        if method is not None:
            method = self._methods.get(method.lower(), (method, None))[0]
        if chat_id is not None:
            source = self._by_chat.get(chat_id, [])
            return [c for c in source if method is None or c.method == method]
        if method is not None:
            return list(self._by_method.get(method, []))
        return list(self._calls)

    def sent_messages(self, chat_id: int | str) -> list[Json]:
        """Messages (as returned to the bot) successfully sent to a chat by sendMessage/Photo."""
        return [call.result for call in self._sent_by_chat.get(chat_id, [])]

    @property
    def messages(self) -> Mapping[int, Mapping[int, StoredMessage]]:
        """Current state per chat: ``tg.messages[chat_id][message_id]`` (after edits/deletes)."""
        return {chat_id: MappingProxyType(chat.messages) for chat_id, chat in self._chats.items()}

    def message(self, chat_id: int, message_id: int) -> StoredMessage:
        return self._chats[chat_id].messages[message_id]

    def callback_answer(self, query_id: str) -> Json | None:
        """Params of the successful answerCallbackQuery for a query, None if not answered."""
        return self._callback_answers.get(query_id)

    def commands(self, scope: Json | None = None, language_code: str = "") -> list[Json]:
        return list(self._commands.get(self._commands_key(scope, language_code), []))

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed through a getUpdates offset."""
        return len(self._queue)

    def clear(self) -> None:
        """Forget recorded calls, callback answers and dropped updates (chat state stays)."""
        self._calls.clear()
        self._by_method.clear()
        self._by_chat.clear()
        self._sent_by_chat.clear()
        self._callback_answers.clear()
        self.dropped_updates.clear()

    async def wait_for(
        self,
        predicate: Callable[[Call], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented test-helper API
        *,
        since: int = 0,
    ) -> Call:
        """The first call (already recorded at/after ``since``, or future) matching predicate."""
        return await self._wait(predicate, self._calls, since, timeout)

    async def wait_for_message(
        self,
        chat_id: int | str,
        contains: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented test-helper API
        *,
        since: int = 0,
    ) -> Json:
        """The first message sent to ``chat_id`` whose text/caption contains ``contains``."""

        def matches(call: Call) -> bool:
            if not call.ok or call.method not in _SEND_METHODS or call.chat_id != chat_id:
                return False
            if contains is None:
                return True
            result = call.result
            return contains in (result.get("text") or result.get("caption") or "")

        call = await self._wait(matches, self._sent_by_chat.get(chat_id, []), since, timeout)
        result: Json = call.result
        return result

    async def _wait(
        self,
        predicate: Callable[[Call], bool],
        recorded: list[Call],
        since: int,
        timeout: float,  # noqa: ASYNC109
    ) -> Call:
        start = bisect.bisect_left(recorded, since, key=lambda c: c.seq)
        for call in recorded[start:]:
            if predicate(call):
                return call
        future: asyncio.Future[Call] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(predicate, future)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            recent = "\n  ".join(repr(c) for c in self._calls[-15:]) or "(none)"
            raise TimeoutError(
                f"no matching Bot API call within {timeout}s; last calls:\n  {recent}"
            ) from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def wait_confirmed(self, update_id: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until getUpdates confirmed ``update_id`` (an offset above it was requested)."""
        if self.last_confirmed_update_id >= update_id:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirm_waiters.append((update_id, future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"update {update_id} not confirmed within {timeout}s "
                f"(last confirmed: {self.last_confirmed_update_id})"
            ) from None

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str | None,
        code: int = 429,
        retry_after: int = 1,
        times: int = 1,
        chat_id: int | str | None = None,
        *,
        description: str | None = None,
        raw_body: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (None: any method) with an error.

        ``code`` 429 carries ``retry_after``; 403 defaults to "bot was blocked by the user";
        5xx to "Internal Server Error"/"Bad Gateway"; 0 drops the connection (aiogram raises
        TelegramNetworkError). ``raw_body`` replaces the JSON body (e.g. nginx's HTML 502,
        which aiogram reports as ClientDecodeError). ``times < 0`` fails forever.
        """
        if description is None:
            description = {
                400: "Bad Request: injected failure",
                401: "Unauthorized",
                403: "Forbidden: bot was blocked by the user",
                404: "Not Found",
                409: POLL_CONFLICT,
                429: f"Too Many Requests: retry after {retry_after}",
                500: "Internal Server Error",
                502: "Bad Gateway",
                503: "Service Unavailable",
                504: "Gateway Timeout",
            }.get(code, f"Error {code}")
        key = None if method is None else self._methods.get(method.lower(), (method, None))[0]
        self._faults.setdefault(key, []).append(
            _Fault(
                chat_id=chat_id,
                code=code,
                description=description,
                retry_after=retry_after if code == 429 else None,
                raw_body=raw_body,
                remaining=times,
            )
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def hang_chat(self, chat_id: int | str) -> None:
        """Requests naming this chat get no answer until ``unhang_chat`` (or close); one whose
        client has gone by then is dropped unprocessed, otherwise it is answered as usual."""
        self._hung[chat_id] = asyncio.Event()

    def unhang_chat(self, chat_id: int | str) -> None:
        released = self._hung.pop(chat_id, None)
        if released is not None:
            released.set()

    async def _hang(self, chat_id: int | str) -> None:
        self.hanging += 1
        try:
            await self._hung[chat_id].wait()
        finally:
            self.hanging -= 1

    def _take_fault(self, method: str, chat_id: int | str | None) -> _Fault | None:
        if not self._faults:
            return None
        for key in (method, None):
            faults = self._faults.get(key)
            if not faults:
                continue
            for fault in faults:
                if fault.chat_id is None or fault.chat_id == chat_id:
                    if fault.remaining > 0:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            faults.remove(fault)
                    return fault
        return None

    def block_chat(self, chat_id: int, *, notify: bool = True) -> None:
        """The user blocks the bot (or kicks it from a group): sends answer 403 from now on.

        With ``notify`` a ``my_chat_member`` update (status "kicked") is queued, like Telegram.
        A private chat's user writing again (``send_text``) unblocks it.
        """
        chat = self._chat_for_test(chat_id)
        chat.blocked = True
        if notify:
            self._push_member_update(chat, "member", "kicked")

    def _push_member_update(self, chat: _Chat, old: str, new: str) -> None:
        actor = chat.user or {"id": 1, "is_bot": False, "first_name": "Admin"}
        member_new: Json = {"user": self.bot_user, "status": new}
        if new == "kicked":
            member_new["until_date"] = 0
        member_old: Json = {"user": self.bot_user, "status": old}
        if old == "kicked":
            member_old["until_date"] = 0
        self._push_update(
            "my_chat_member",
            {
                "chat": chat.obj,
                "from": actor,
                "date": int(time.time()),
                "old_chat_member": member_old,
                "new_chat_member": member_new,
            },
        )

    # ---------------------------------------------------------------- feeding updates

    def add_chat(
        self,
        chat_id: int,
        *,
        chat_type: str | None = None,
        title: str | None = None,
        username: str | None = None,
        first_name: str = "Test",
        last_name: str | None = None,
    ) -> Json:
        """Make a chat known to the bot (as if the user had written to it). Returns the Chat."""
        if chat_type is None:
            chat_type = "private" if chat_id > 0 else "supergroup"
        user = None
        if chat_type == "private":
            user = self._user(chat_id, username, first_name, last_name, None)
        return self._ensure_chat(chat_id, chat_type, title, user).obj

    def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        *,
        username: str | None = None,
        first_name: str = "Test",
        last_name: str | None = None,
        language_code: str | None = "en",
        chat_type: str | None = None,
        chat_title: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> Json:
        """A user sends a text message; queues the Update for getUpdates and returns it.

        The returned update may be in ``dropped_updates`` instead of the queue (privacy mode in
        groups, or ``allowed_updates`` excluding messages), exactly as Telegram would drop it.
        """
        if chat_id is None:
            if chat_type not in (None, "private"):
                raise ValueError("a group message needs a chat_id")
            chat_id = user_id
        if chat_type is None:
            known = self._chats.get(chat_id)
            if known is not None:
                chat_type = known.type
            else:
                chat_type = "private" if chat_id > 0 else "supergroup"
        user = self._user(user_id, username, first_name, last_name, language_code)
        chat = self._ensure_chat(chat_id, chat_type, chat_title, user)
        if chat.type == "private":
            chat.blocked = False  # writing to a bot means having unblocked it
        reply_to = None
        if reply_to_message_id is not None:
            reply_to = chat.messages.get(reply_to_message_id)
            if reply_to is None:
                raise KeyError(f"no message {reply_to_message_id} in chat {chat_id}")
        stored = StoredMessage(
            chat=chat.obj,
            message_id=chat.next_message_id(),
            sender=user,
            from_bot=False,
            date=int(time.time()),
            text=text,
            entities=command_entities(text),
            reply_to=reply_to,
            raw_text=text,
        )
        chat.messages[stored.message_id] = stored
        update = self._make_update("message", stored.to_json())
        if chat.type != "private" and self.privacy_mode and not self._privacy_allows(stored):
            self.dropped_updates.append(update)
            return update
        self._enqueue(update)
        return update

    def _privacy_allows(self, message: StoredMessage) -> bool:
        if message.reply_to is not None and message.reply_to.from_bot:
            return True
        text = message.text or ""
        if message.entities and message.entities[0]["offset"] == 0:
            command = text[: message.entities[0]["length"]]
            _, _, mention = command.partition("@")
            return not mention or mention.lower() == self.bot_username.lower()
        return False

    def press_button(
        self,
        user_id: int,
        message_id: int,
        chat_id: int,
        data: str,
        *,
        username: str | None = None,
        first_name: str = "Test",
        last_name: str | None = None,
        language_code: str | None = "en",
        check_button: bool = True,
    ) -> str:
        """A user presses an inline button of a bot message; returns the callback query id.

        With ``check_button`` the message must currently carry a button with this
        callback_data (what a real client can press); pass False to forge data (a modified
        client can send anything).
        """
        chat = self._chat_for_test(chat_id)
        stored = chat.messages.get(message_id)
        if stored is None or not stored.from_bot:
            raise KeyError(f"no bot message {message_id} in chat {chat_id}")
        if check_button and data not in stored.callback_data():
            raise ValueError(
                f"message {message_id} has no button with callback_data {data!r}; "
                f"it has {stored.callback_data()!r}"
            )
        user = self._user(user_id, username, first_name, last_name, language_code)
        query_id = str(next(self._callback_ids))
        self._callback_queries[query_id] = _CallbackQuery(
            created=time.monotonic(),
            chat_id=chat_id,
            message_id=message_id,
            user_id=user_id,
            data=data,
        )
        self._push_update(
            "callback_query",
            {
                "id": query_id,
                "from": user,
                "message": stored.to_json(),
                "chat_instance": str(abs(chat_id) * 7919 + self.bot_id),
                "data": data,
            },
        )
        return query_id

    def add_inline_message(self, text: str, reply_markup: Json | None = None) -> str:
        """Register an inline-mode message the bot may edit by inline_message_id."""
        inline_id = secrets.token_urlsafe(18)
        self._inline[inline_id] = StoredMessage(
            chat={"id": 0, "type": "private"},
            message_id=0,
            sender=self.bot_user,
            from_bot=True,
            date=int(time.time()),
            text=text,
            raw_text=text,
            reply_markup=reply_markup,
            inline_message_id=inline_id,
        )
        return inline_id

    def inline_message(self, inline_message_id: str) -> StoredMessage:
        return self._inline[inline_message_id]

    def _user(
        self,
        user_id: int,
        username: str | None,
        first_name: str,
        last_name: str | None,
        language_code: str | None,
    ) -> Json:
        user: Json = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        return user

    def _ensure_chat(
        self, chat_id: int, chat_type: str, title: str | None, user: Json | None
    ) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is not None:
            if chat.type != chat_type:
                raise ValueError(f"chat {chat_id} is a {chat.type}, not a {chat_type}")
            return chat
        if chat_type == "private":
            if user is None or chat_id != user["id"] or chat_id <= 0:
                raise ValueError("a private chat's id is its (positive) user id")
            obj: Json = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if key in user:
                    obj[key] = user[key]
        elif chat_type in ("group", "supergroup"):
            if chat_id >= 0:
                raise ValueError("group chat ids are negative")
            obj = {"id": chat_id, "type": chat_type, "title": title or f"Group {-chat_id}"}
        else:
            raise ValueError(f"unsupported chat type {chat_type!r}")
        chat = _Chat(
            obj=obj,
            user=user if chat_type == "private" else None,
            last_message_id=self.first_message_id - 1,
        )
        self._chats[chat_id] = chat
        if "username" in obj:
            self._chats_by_username[str(obj["username"]).lower()] = chat_id
        return chat

    def _chat_for_test(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise KeyError(f"chat {chat_id} is unknown; send_text or add_chat first")
        return chat

    def _make_update(self, kind: str, payload: Json) -> Json:
        update = {"update_id": self._next_update_id, kind: payload}
        self._next_update_id += 1
        return update

    def _push_update(self, kind: str, payload: Json) -> Json:
        update = self._make_update(kind, payload)
        self._enqueue(update)
        return update

    def _enqueue(self, update: Json) -> None:
        kind = next(k for k in update if k != "update_id")
        allowed = self._allowed
        if (kind in _NOT_DEFAULT_UPDATES) if allowed is None else (kind not in allowed):
            self.dropped_updates.append(update)
            return
        self._queue.append(update)
        if self._poller is not None and not self._poller.done():
            self._poller.set_result("update")

    # ---------------------------------------------------------------- helpers for methods

    def _chat_key(self, value: Any) -> int | str | None:
        if value is None or isinstance(value, int):
            return value
        if isinstance(value, str) and value.startswith("@"):
            return self._chats_by_username.get(value[1:].lower(), value)
        return str(value)

    def _target_chat(self, params: Json) -> _Chat:
        chat_id = self._chat_key(params.get("chat_id"))
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            if self.require_known_chats or not isinstance(chat_id, int):
                raise _bad("chat not found")
            if chat_id > 0:
                chat = self._ensure_chat(
                    chat_id, "private", None, self._user(chat_id, None, "Test", None, None)
                )
            else:
                chat = self._ensure_chat(chat_id, "supergroup", None, None)
        if chat.blocked:
            if chat.type == "private":
                raise BotAPIError(403, "Forbidden: bot was blocked by the user")
            raise BotAPIError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        return chat

    def _check_flood(self, chat: _Chat) -> None:
        if not self.enforce_limits:
            return
        now = self.flood_clock()
        count, window = self.private_limit if chat.type == "private" else self.group_limit
        wait = max(
            _window_wait(chat.flood, count, window, now),
            _window_wait(self._global_flood, *self.global_limit, now),
        )
        if wait > 0:
            raise _too_many(max(1, math.ceil(wait)))
        chat.flood.append(now)
        self._global_flood.append(now)

    def _formatted(
        self, params: Json, text_key: str, entities_key: str, limit: int, *, required: bool
    ) -> tuple[str, list[Json]]:
        raw = params.get(text_key)
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            raw = str(raw)
        parse_mode = params.get("parse_mode")
        entities = params.get(entities_key)
        if isinstance(entities, list):
            text = raw
        elif parse_mode in (None, ""):
            text, entities = raw, []
        elif str(parse_mode).lower() == "html":
            text, entities = parse_html(raw)
        elif str(parse_mode).lower() in ("markdown", "markdownv2"):
            text, entities = raw, []  # not emulated
        else:
            raise _bad("unsupported parse_mode")
        text, entities = _trim(text, list(entities))
        if required and not text:
            raise _bad("message text is empty")
        if utf16_len(text) > limit:
            raise _bad("message is too long" if required else "message caption is too long")
        return text, entities

    @staticmethod
    def _markup(params: Json) -> Json | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                if not _BUTTON_ACTIONS.intersection(button):
                    raise _bad(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not (
                    isinstance(data, str)
                    and 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
                ):
                    raise _bad("BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not re.match(r"^(https?|tg)://\S+$", str(url)):
                    raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
        return markup

    def _reply_to(self, chat: _Chat, params: Json) -> StoredMessage | None:
        reply = params.get("reply_parameters")
        allow_missing = bool(params.get("allow_sending_without_reply"))
        message_id: Any = params.get("reply_to_message_id")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
        if message_id in (None, 0):
            return None
        target = chat.messages.get(_int(message_id, 0))
        if target is None and not allow_missing:
            raise _bad("message to be replied not found")
        return target

    def _new_message(self, chat: _Chat, params: Json, **content: Any) -> StoredMessage:
        reply_to = self._reply_to(chat, params)
        markup = self._markup(params)
        self._check_flood(chat)
        stored = StoredMessage(
            chat=chat.obj,
            message_id=chat.next_message_id(),
            sender=self.bot_user,
            from_bot=True,
            date=int(time.time()),
            reply_markup=markup,
            parse_mode=params.get("parse_mode"),
            reply_to=reply_to,
            **content,
        )
        chat.messages[stored.message_id] = stored
        return stored

    def _edit_target(self, params: Json) -> StoredMessage:
        inline_id = params.get("inline_message_id")
        if inline_id:
            stored = self._inline.get(str(inline_id))
            if stored is None:
                raise _bad("MESSAGE_ID_INVALID")
            return stored
        chat = self._target_chat(params)
        message_id = params.get("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        stored = chat.messages.get(_int(message_id, 0))
        if stored is None:
            raise _bad("message to edit not found")
        if not stored.from_bot:
            raise _bad("message can't be edited")
        return stored

    @staticmethod
    def _edited(stored: StoredMessage) -> Any:
        stored.edit_date = int(time.time())
        return True if stored.inline_message_id is not None else stored.to_json()

    # ---------------------------------------------------------------- methods

    async def _get_updates(self, params: Json) -> list[Json]:
        if self.webhook_url:
            raise BotAPIError(409, WEBHOOK_CONFLICT)
        offset = _int(params.get("offset"), 0)
        limit = min(max(_int(params.get("limit"), 100), 1), 100)
        timeout = max(_int(params.get("timeout"), 0), 0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed = frozenset(str(kind) for kind in allowed) if allowed else None
        queue = self._queue
        if offset > 0:
            while queue and queue[0]["update_id"] < offset:
                queue.popleft()
            self._confirmed(offset - 1)
        elif offset < 0:
            while len(queue) > -offset:
                self._confirmed(queue.popleft()["update_id"])
        previous = self._poller
        if previous is not None and not previous.done():
            previous.set_result("conflict")
        if not queue and timeout > 0 and not self._closing:
            waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            self._poller = waiter
            try:
                await asyncio.wait((waiter,), timeout=min(timeout, self.max_poll_timeout))
            finally:
                if self._poller is waiter:
                    self._poller = None
            if not waiter.done():
                waiter.cancel()
            elif waiter.result() == "conflict":
                raise BotAPIError(409, POLL_CONFLICT)
        return list(itertools.islice(queue, limit))

    def _confirmed(self, update_id: int) -> None:
        if update_id <= self.last_confirmed_update_id:
            return
        self.last_confirmed_update_id = update_id
        if self._confirm_waiters:
            keep = []
            for wanted, future in self._confirm_waiters:
                if future.done():
                    continue
                if wanted <= update_id:
                    future.set_result(None)
                else:
                    keep.append((wanted, future))
            self._confirm_waiters = keep

    def _get_me(self, params: Json, files: dict[str, Upload]) -> Json:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _set_webhook(self, params: Json, files: dict[str, Upload]) -> bool:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook_url = url
        if params.get("drop_pending_updates"):
            self._queue.clear()
        return True

    def _delete_webhook(self, params: Json, files: dict[str, Upload]) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            if self._queue:
                self._confirmed(self._queue[-1]["update_id"])
            self._queue.clear()
        return True

    def _get_webhook_info(self, params: Json, files: dict[str, Upload]) -> Json:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        if not isinstance(scope, dict):
            scope = {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    def _set_my_commands(self, params: Json, files: dict[str, Upload]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("command description must be non-empty")
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _get_my_commands(self, params: Json, files: dict[str, Upload]) -> list[Json]:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        return list(self._commands.get(key, []))

    def _delete_my_commands(self, params: Json, files: dict[str, Upload]) -> bool:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands.pop(key, None)
        return True

    def _send_message(self, params: Json, files: dict[str, Upload]) -> Json:
        chat = self._target_chat(params)
        text, entities = self._formatted(
            params, "text", "entities", MAX_TEXT_LENGTH, required=True
        )
        stored = self._new_message(
            chat, params, text=text, entities=entities, raw_text=params.get("text")
        )
        return stored.to_json()

    def _send_photo(self, params: Json, files: dict[str, Upload]) -> Json:
        chat = self._target_chat(params)
        stored_file = self._resolve_photo(params.get("photo"), files)
        caption, caption_entities = self._formatted(
            params, "caption", "caption_entities", MAX_CAPTION_LENGTH, required=False
        )
        stored = self._new_message(
            chat,
            params,
            photo=stored_file.sizes,
            caption=caption or None,
            caption_entities=caption_entities,
            raw_text=params.get("caption"),
            upload=stored_file.upload,
        )
        return stored.to_json()

    def _send_document(self, params: Json, files: dict[str, Upload]) -> Json:
        chat = self._target_chat(params)
        value = params.get("document")
        upload: Upload | None = None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        elif value is None:
            upload = files.get("document")
        if upload is None:
            raise _bad("there is no document in the request")
        if upload.size == 0:
            raise _bad("file must be non-empty")
        if upload.size > MAX_DOCUMENT_BYTES:
            raise _bad("file is too big")
        caption, caption_entities = self._formatted(
            params, "caption", "caption_entities", MAX_CAPTION_LENGTH, required=False
        )
        document: Json = {
            "file_id": "BQACAgIAAxkDAA" + secrets.token_urlsafe(48),
            "file_unique_id": "AgAD" + secrets.token_urlsafe(12),
            "file_size": upload.size,
        }
        if upload.filename:
            document["file_name"] = upload.filename
        if upload.content_type:
            document["mime_type"] = upload.content_type
        stored = self._new_message(
            chat,
            params,
            document=document,
            caption=caption or None,
            caption_entities=caption_entities,
            raw_text=params.get("caption"),
            upload=upload,
        )
        return stored.to_json()

    def _resolve_photo(self, value: Any, files: dict[str, Upload]) -> _StoredFile:
        upload: Upload | None = None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
            if upload is None:
                raise _bad("wrong file identifier/HTTP URL specified")
        elif value is None and "photo" in files:
            upload = files["photo"]
        elif not isinstance(value, str) or not value:
            raise _bad("there is no photo in the request")
        if upload is not None:
            return self._store_upload(upload)
        assert isinstance(value, str)
        if value.startswith(("http://", "https://")):
            return self._register_file(None, value, 800, 800)
        existing = self._files.get(value)
        if existing is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        return existing

    def _store_upload(self, upload: Upload) -> _StoredFile:
        if upload.size == 0:
            raise _bad("file must be non-empty")
        info = image_info(upload.data)
        if info is None or info[1] <= 0 or info[2] <= 0:
            raise _bad("IMAGE_PROCESS_FAILED")
        _, width, height = info
        if width + height > 10000 or max(width, height) > 20 * min(width, height):
            raise _bad("PHOTO_INVALID_DIMENSIONS")
        return self._register_file(upload, None, width, height)

    def _register_file(
        self, upload: Upload | None, url: str | None, width: int, height: int
    ) -> _StoredFile:
        sizes: list[Json] = []
        ids: list[str] = []
        longest = max(width, height)
        for bound in (90, 320, 800, 1280, 2560):
            # one size per bound, scaled down; the last one is the original (capped at 2560)
            scale = min(1.0, bound / longest)
            file_id = "AgACAgIAAxkDAA" + secrets.token_urlsafe(48)
            ids.append(file_id)
            size: Json = {
                "file_id": file_id,
                "file_unique_id": "AQAD" + secrets.token_urlsafe(12),
                "width": max(1, round(width * scale)),
                "height": max(1, round(height * scale)),
            }
            if upload is not None:
                size["file_size"] = max(1, round(upload.size * scale * scale))
            sizes.append(size)
            if longest <= bound:
                break
        path = f"photos/file_{len(self._files_by_path)}.jpg"
        stored = _StoredFile(
            file_id=ids[-1],
            unique_id=sizes[-1]["file_unique_id"],
            sizes=sizes,
            upload=upload,
            url=url,
            path=path,
        )
        for file_id in ids:
            self._files[file_id] = stored
        self._files_by_path[path] = stored
        return stored

    def _get_file(self, params: Json, files: dict[str, Upload]) -> Json:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad("invalid file_id")
        result: Json = {"file_id": stored.file_id, "file_unique_id": stored.unique_id}
        if stored.upload is not None:
            result["file_size"] = stored.upload.size
            result["file_path"] = stored.path
        return result

    def _edit_message_text(self, params: Json, files: dict[str, Upload]) -> Any:
        stored = self._edit_target(params)
        if stored.text is None:
            raise _bad("there is no text in the message to edit")
        text, entities = self._formatted(
            params, "text", "entities", MAX_TEXT_LENGTH, required=True
        )
        markup = self._markup(params)
        new_keyboard = markup if markup and markup.get("inline_keyboard") else None
        current = (stored.text, stored.entities, stored.inline_keyboard)
        if (text, entities, new_keyboard) == current:
            raise BotAPIError(400, NOT_MODIFIED)
        stored.text, stored.entities, stored.reply_markup = text, entities, new_keyboard
        stored.raw_text, stored.parse_mode = params.get("text"), params.get("parse_mode")
        return self._edited(stored)

    def _edit_message_caption(self, params: Json, files: dict[str, Upload]) -> Any:
        stored = self._edit_target(params)
        if stored.photo is None:
            raise _bad("there is no caption in the message to edit")
        caption, entities = self._formatted(
            params, "caption", "caption_entities", MAX_CAPTION_LENGTH, required=False
        )
        markup = self._markup(params)
        new_keyboard = markup if markup and markup.get("inline_keyboard") else None
        current = (stored.caption or "", stored.caption_entities, stored.inline_keyboard)
        if (caption, entities, new_keyboard) == current:
            raise BotAPIError(400, NOT_MODIFIED)
        stored.caption, stored.caption_entities = caption or None, entities
        stored.reply_markup = new_keyboard
        stored.raw_text, stored.parse_mode = params.get("caption"), params.get("parse_mode")
        return self._edited(stored)

    def _edit_message_reply_markup(self, params: Json, files: dict[str, Upload]) -> Any:
        stored = self._edit_target(params)
        markup = self._markup(params)
        new_keyboard = markup if markup and markup.get("inline_keyboard") else None
        if new_keyboard == stored.inline_keyboard:
            raise BotAPIError(400, NOT_MODIFIED)
        stored.reply_markup = new_keyboard
        return self._edited(stored)

    def _answer_callback_query(self, params: Json, files: dict[str, Upload]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        query = self._callback_queries.get(query_id)
        if (
            query is None
            or query.answered
            or time.monotonic() - query.created > self.callback_query_ttl
        ):
            raise BotAPIError(400, QUERY_TOO_OLD)
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        query.answered = True
        self._callback_answers[query_id] = params
        return True

    def _delete_message(self, params: Json, files: dict[str, Upload]) -> bool:
        chat = self._target_chat(params)
        message_id = params.get("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        if chat.messages.pop(_int(message_id, 0), None) is None:
            raise _bad("message to delete not found")
        return True

    def _send_chat_action(self, params: Json, files: dict[str, Upload]) -> bool:
        self._target_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _get_chat(self, params: Json, files: dict[str, Upload]) -> Json:
        chat_id = self._chat_key(params.get("chat_id"))
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise _bad("chat not found")
        return {
            **chat.obj,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
