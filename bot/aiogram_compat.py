"""Every place the bot relies on aiogram beyond its documented API, one small function each.

aiogram offers no supported way to do these; each is guarded by a test in
tests/unit/test_aiogram_compat.py that runs against the installed aiogram, so an upgrade that
changes them fails there first (see UPGRADING.md). Nothing else in bot/ may touch aiogram's
undocumented attributes: add a function here instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.methods import Response, TelegramMethod


def api_method_name(method: TelegramMethod[Any] | type[TelegramMethod[Any]]) -> str:
    """The Bot API name of a request ("sendMessage"), for logs and metric labels.

    aiogram keeps it only in the ``__api_method__`` class attribute each method declares (and
    uses to build the request URL); there is no public accessor, and the class name
    ("SendMessage") is not the name Telegram and our dashboards use."""
    name: str = method.__api_method__
    return name


def response_model(method: TelegramMethod[Any]) -> Any:
    """The pydantic model aiogram validates this method's reply with.

    aiogram builds ``Response[method.__returning__]`` inside ``BaseSession.check_response`` for
    every reply; pydantic caches such parametrised models only weakly, so unless someone holds
    the model the cyclic GC discards it and the next reply rebuilds it (milliseconds of CPU).
    Holding what this returns keeps aiogram's own lookup cached. No public API names the model
    or the return type."""
    return Response[method.__returning__]  # type: ignore[name-defined]


def _handler(data: Mapping[str, Any]) -> HandlerObject | None:
    found = data.get("handler")
    return found if isinstance(found, HandlerObject) else None


def handler_callback(data: Mapping[str, Any]) -> Callable[..., Any] | None:
    """The function the dispatcher chose for this event (None outside a handler middleware).

    aiogram puts its HandlerObject into the middleware data under "handler"; neither the key nor
    the object's ``callback`` field is documented (only handler flags are, which name no
    function)."""
    handler = _handler(data)
    return None if handler is None else handler.callback


def handler_accepts(data: Mapping[str, Any], argument: str) -> bool:
    """Whether the chosen handler takes ``argument`` (by name, or through ``**kwargs``); True
    when unknown, so a caller that provides the argument lazily errs on providing it.

    aiogram inspects each handler's signature once, to pass it only the data it names, and
    keeps the result in HandlerObject's undocumented ``params``/``varkw`` fields. The supported
    alternative, a flag on every handler that reads the database, would have to be kept in step
    with the signatures by hand."""
    handler = _handler(data)
    return handler is None or argument in handler.params or handler.varkw
