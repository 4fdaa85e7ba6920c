"""Update middlewares (the locale, throttling, the current user, banned users), handler
middlewares (a read session, handler context) and the client-session middlewares (retrying
flood and server errors; pinning response models)."""

from bot.middlewares.banned import BannedUsers
from bot.middlewares.context import HandlerContext, handler_of
from bot.middlewares.db import CurrentUser, ReadSession
from bot.middlewares.locale import UpdateLocale
from bot.middlewares.pinning import PinResponseModels
from bot.middlewares.retry import RetryRequests
from bot.middlewares.throttling import Throttling

__all__ = [
    "BannedUsers",
    "CurrentUser",
    "HandlerContext",
    "PinResponseModels",
    "ReadSession",
    "RetryRequests",
    "Throttling",
    "UpdateLocale",
    "handler_of",
]
