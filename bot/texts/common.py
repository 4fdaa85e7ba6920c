"""What every feature's texts share: HTML escaping, per-locale money, numbers and dates (Babel),
coin names, and the helpers that lay out label/value lines.

Money and dates are formatted in the current locale (bot.i18n): en ``$1,234.50`` and
``2026-01-05 13:04 UTC``, ru ``1 234,50 $`` and ``05.01.2026 13:04 UTC``. Times stay in UTC in
every locale. Whatever ``usd`` writes, core.money.parse_usd reads back (a test checks it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from html import escape, unescape
from typing import Any

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal

from bot.i18n import current_babel_locale, current_locale, has_text, t
from core.currencies import split_code
from core.errors import InvalidAmount
from core.money import CENT, to_decimal

_DATE_PATTERNS: Mapping[str, str] = {
    "en": "yyyy-MM-dd HH:mm 'UTC'",
    "ru": "dd.MM.yyyy HH:mm 'UTC'",
}


def esc(value: object) -> str:
    return escape(str(value), quote=False)


def when(moment: datetime) -> str:
    """A moment in UTC, written the locale's way."""
    locale = current_locale()
    pattern = _DATE_PATTERNS.get(locale, _DATE_PATTERNS["en"])
    return str(format_datetime(moment.astimezone(UTC), pattern, tzinfo=UTC, locale=locale))


def usd(value: Decimal, *, signed: bool = False) -> str:
    """A USD amount to the cent in the current locale: '$1,234.50' / '1 234,50 $'; with
    ``signed`` a '+' on gains. A loss always has a plain '-' (parse_usd reads it back)."""
    amount = to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    body = str(format_currency(abs(amount), "USD", locale=current_babel_locale()))
    if amount < 0:
        return f"-{body}"
    return f"+{body}" if signed and amount > 0 else body


def number(value: int | Decimal) -> str:
    """A count or an exact decimal in the locale's digits grouping, never rounded."""
    return str(format_decimal(value, locale=current_babel_locale(), decimal_quantization=False))


def crypto(value: object) -> str:
    """A crypto amount exactly as stored (no rounding, no float), in the locale's separators;
    what is not a number is shown as written."""
    try:
        amount = to_decimal(value)
    except InvalidAmount:
        return str(value)
    return number(amount)


def coin_name(code: object) -> str:
    """The one name a user sees for a coin (plain text: escape it for HTML): 'USDT (TRC20)' for
    a token on a network, 'BTC' for a native coin; the split the currency sync stores."""
    ticker = str(code or "").strip().upper()
    token, _ = split_code(ticker, None)
    network = ticker[len(token) :]
    return f"{token} ({network})" if network else token


def pick(prefix: str, name: object, fallback: str, **args: Any) -> str:
    """The text ``prefix-name`` (a status, a reason) or, for one the files do not know,
    ``fallback`` with ``name``."""
    key = f"{prefix}-{name}"
    return t(key, **args) if name and has_text(key) else t(fallback, name=esc(name or "?"))


class LazyMap(Mapping[str, str]):
    """A name → text table rendered when read, so it speaks the reader's locale."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._keys = dict(keys)

    def __getitem__(self, name: str) -> str:
        return t(self._keys[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class LazyCommands(Sequence[tuple[str, str]]):
    """(command, description) pairs for setMyCommands, described in the current locale."""

    def __init__(self, commands: Sequence[str], prefix: str) -> None:
        self._commands = tuple(commands)
        self._prefix = prefix

    def __getitem__(self, index: int) -> tuple[str, str]:  # type: ignore[override]
        command = self._commands[index]
        return command, t(f"{self._prefix}-{command}")

    def __len__(self) -> int:
        return len(self._commands)


def payload_usd(payload: Mapping[str, Any], key: str) -> str | None:
    raw = payload.get(key)
    if raw is None:
        return None
    try:
        return usd(to_decimal(raw))
    except InvalidAmount:
        return esc(raw)


def payload_text(payload: Mapping[str, Any], key: str) -> str | None:
    raw = payload.get(key)
    return None if raw is None or raw == "" else esc(raw)


def lines(*pairs: tuple[str, str | None]) -> list[str]:
    """'Label: value' for each pair with a value; labels are text keys."""
    return [t("line", label=t(label), value=value) for label, value in pairs if value is not None]


def clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


MAX_MESSAGE_LENGTH = 4096  # Telegram's limit for a message text
CAPTION_LIMIT = 1024
_TAG = re.compile(r"<[^>]*>")


def bounded(rows: Sequence[str], limit: int = 3500) -> str:
    """Lines joined up to about ``limit`` characters; the rest counted."""
    kept: list[str] = []
    size = 0
    for n, line in enumerate(rows):
        if size + len(line) > limit:
            kept.append(t("and-more", count=len(rows) - n))
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)


def visible_length(html_text: str) -> int:
    """What Telegram counts against its length limits: the text without tags, entities decoded,
    trimmed, in UTF-16 code units."""
    shown = unescape(_TAG.sub("", html_text)).strip()
    return len(shown.encode("utf-16-le")) // 2


def fits_caption(html_text: str) -> bool:
    return visible_length(html_text) <= CAPTION_LIMIT


def titled(title: str, body: Sequence[str], *tail: str) -> str:
    return "\n".join([f"<b>{title}</b>", "", *body, *tail]).strip()
