"""Translations: Fluent files under ``bot/locales/<locale>/*.ftl``, one bundle per locale.

Fluent (fluent.runtime) rather than gettext: messages take named arguments and plural/select
forms in the file itself, and the files are plain text with no compile step. aiogram-i18n was
considered; it reaches into fluent.runtime's private attributes and ties loading to the
dispatcher's start-up, and a push is rendered outside any update anyway.

Who a text is for is a context variable: the update's middleware sets the user's locale, the
notifier sets the recipient's while it renders a push, admin texts use the admin language.
``t(key, **args)`` renders in the current locale.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from fluent.runtime import FluentBundle, FluentResource

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
LOCALES = ("en", "ru")
DEFAULT_LOCALE = "en"

_current: ContextVar[str] = ContextVar("paybot_locale", default=DEFAULT_LOCALE)


class MissingText(LookupError):
    """A key absent from a locale, or a message that failed to format (a missing argument)."""


def locale_for(language: str | None) -> str:
    """Telegram's ``language_code`` (or a stored choice) to one of ours: ``ru…`` is Russian,
    everything else English."""
    code = (language or "").strip().lower()
    if code in LOCALES:
        return code
    return "ru" if code.startswith("ru") else DEFAULT_LOCALE


def current_locale() -> str:
    return _current.get()


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    token = _current.set(locale_for(locale))
    try:
        yield
    finally:
        _current.reset(token)


def set_locale(locale: str) -> None:
    """For a task of its own (an update's handler): the locale until the task ends."""
    _current.set(locale_for(locale))


class Catalog:
    """Every locale's bundle, loaded once."""

    def __init__(self, root: Path = LOCALES_DIR) -> None:
        self.root = root
        self.bundles: dict[str, FluentBundle] = {}
        self.files: dict[str, dict[str, Path]] = {}
        self._plain: dict[tuple[str, str], str] = {}
        for locale in LOCALES:
            # Bidi isolation marks would show up as stray characters in Telegram.
            bundle = FluentBundle([locale], use_isolating=False)
            self.files[locale] = {}
            for path in sorted((root / locale).glob("*.ftl")):
                resource = FluentResource(path.read_text(encoding="utf-8"))
                bundle.add_resource(resource)
                for entry in resource.body:
                    name = getattr(getattr(entry, "id", None), "name", None)
                    if name is not None:
                        self.files[locale][name] = path
            self.bundles[locale] = bundle

    def keys(self, locale: str) -> set[str]:
        return set(self.files[locale])

    def render(self, locale: str, key: str, args: Mapping[str, Any]) -> str:
        if not args:  # a text without arguments never changes: format it once
            plain = self._plain.get((locale, key))
            if plain is None:
                plain = self._plain[(locale, key)] = self._format(locale, key, args)
            return plain
        return self._format(locale, key, args)

    def _format(self, locale: str, key: str, args: Mapping[str, Any]) -> str:
        bundle = self.bundles[locale_for(locale)]
        if not bundle.has_message(key):
            raise MissingText(f"{locale}: no text {key!r}")
        message = bundle.get_message(key)
        if message.value is None:
            raise MissingText(f"{locale}: text {key!r} has no value")
        text, errors = bundle.format_pattern(message.value, dict(args))
        if errors:
            raise MissingText(f"{locale}: text {key!r}: {errors[0]}")
        return str(text)


@cache
def babel_locale(locale: str) -> Locale:
    """Babel's locale object, parsed once (a locale string is parsed again on every call)."""
    return Locale.parse(locale)


def current_babel_locale() -> Locale:
    return babel_locale(_current.get())


@cache
def catalog() -> Catalog:
    return Catalog()


def t(key: str, /, **args: Any) -> str:
    """The text ``key`` in the current locale."""
    return catalog().render(_current.get(), key, args)


def has_text(key: str) -> bool:
    """Whether ``key`` exists (for texts picked by a status or a reason the code does not
    enumerate: an unknown one falls back to a generic text)."""
    return catalog().bundles[_current.get()].has_message(key)
