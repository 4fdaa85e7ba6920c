"""The locale files: the same keys in every locale, each message formats, and the locale rules."""

from __future__ import annotations

import re

import pytest

from bot.i18n import LOCALES, MissingText, catalog, locale_for, t, use_locale


def test_every_key_exists_in_every_locale() -> None:
    books = catalog()
    keys = {locale: books.keys(locale) for locale in LOCALES}
    union = set().union(*keys.values())
    assert union, "no texts loaded"
    missing = {locale: sorted(union - found) for locale, found in keys.items() if union - found}
    assert not missing, f"keys missing per locale: {missing}"


def test_each_key_lives_in_the_same_file_in_every_locale() -> None:
    books = catalog()
    for key, path in books.files["en"].items():
        for locale in LOCALES:
            assert books.files[locale][key].name == path.name, (key, locale)


def test_messages_use_the_same_arguments_in_every_locale() -> None:
    books = catalog()
    variable = re.compile(r"\$([a-z_][a-z0-9_-]*)")
    for key, path in books.files["en"].items():
        used = {}
        for locale in LOCALES:
            source = books.files[locale][key].read_text(encoding="utf-8")
            block = re.search(rf"(?ms)^{re.escape(key)} =(.*?)(?=^[a-z#-]|\Z)", source)
            assert block is not None, (locale, key, path)
            used[locale] = set(variable.findall(block.group(1)))
        assert used["ru"] == used["en"], (key, used)


def test_language_code_picks_the_locale() -> None:
    assert locale_for("ru") == "ru"
    assert locale_for("ru-RU") == "ru"
    assert locale_for("RU") == "ru"
    assert locale_for("en-GB") == "en"
    assert locale_for("uk") == "en"
    assert locale_for(None) == "en"
    assert locale_for("") == "en"


def test_current_locale_renders_and_missing_key_is_an_error() -> None:
    with use_locale("ru"):
        assert t("language-name") == "Русский"
    with use_locale("en-US"):
        assert t("language-name") == "English"
    with pytest.raises(MissingText):
        t("no-such-key")
