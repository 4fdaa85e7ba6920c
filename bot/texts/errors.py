"""Domain errors and the generic replies (cancel, unknown input, slow down, expired button)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from bot.i18n import MissingText, has_text, t
from bot.texts.common import esc, usd

# Error texts are "error-<code>-<reason>" first, then "error-<code>"; an argument is a parameter
# of the error (money formatted here).
_ERROR_CODES = (
    "invalid_amount",
    "insufficient_funds",
    "not_found",
    "forbidden",
    "invalid_address",
    "currency_unavailable",
    "limit_exceeded",
    "invalid_transition",
    "provider_refused",
    "provider_unavailable",
)


def _key(name: str) -> str:
    return "error-" + name.replace(".", "-")


class _Errors(Mapping[str, str]):
    """'code' or 'code.reason' → the text, with its parameters as Fluent shows them
    (``{ $minimum }``): for tests and for callers that only need the wording."""

    def __getitem__(self, name: str) -> str:
        key = _key(name)
        if not has_text(key):
            raise KeyError(name)
        code, _, reason = name.partition(".")
        return error_text(code, reason, {})

    def __iter__(self) -> Iterator[str]:
        return iter(_ERROR_CODES)

    def __len__(self) -> int:
        return len(_ERROR_CODES)


ERRORS = _Errors()


def format_param(value: Any) -> str:
    if isinstance(value, Decimal):
        return usd(value)
    return esc(value)


def error_text(code: str, reason: str, params: Mapping[str, Any]) -> str:
    """The friendly message for a domain error; a missing parameter falls back to the code's."""
    values = {k: format_param(v) for k, v in params.items()}
    for key in (_key(f"{code}.{reason}") if reason else None, _key(code)):
        if key is None or not has_text(key):
            continue
        try:
            return t(key, **values)
        except MissingText:
            continue
    return t("generic-error")
