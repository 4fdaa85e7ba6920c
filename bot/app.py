"""The process: Telegram polling, the notifier and the payment poller in one event loop.

``build_app(settings, ...)`` wires everything from settings plus optional injected objects (tests
and the benchmark inject the engine, routers, renderers and tuning); ``App.start()`` takes the
polling lock and starts the services; ``App.stop()`` shuts down gracefully. ``run_app`` is what
``python -m bot run`` calls.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import texts
from bot.factory import create_bot, create_dispatcher
from bot.handlers import admin, get_routers, user_flows
from bot.i18n import DEFAULT_LOCALE, LOCALES, use_locale
from bot.middlewares.throttling import Clock
from bot.notifier import RENDERERS, Notifier, NotifierTuning, Renderer
from bot.reports.adjustments import RENDERERS as ADJUSTED
from bot.runtime import AlreadyRunning, PollingLock, UpdatePolling, tune_gc, wait_bounded
from bot.services import build_services
from bot.telemetry import CountRequests
from core import metrics, outbox
from core.background import BackgroundService, PaymentBackground
from core.config import Settings, login_warning
from core.currencies import CurrencyCatalog
from core.db import roles
from core.db.session import create_engine, create_session_factory, database_url
from core.deposits.poller import release_leases
from core.errors import ConfigError
from core.exit_codes import ExitCode
from core.health import Freshness, Health, HttpEndpoint
from core.logging import redact
from core.metrics import CountingTransport, Metrics
from core.nowpayments import NowPaymentsClient

log = logging.getLogger(__name__)

Closer = Callable[[], Awaitable[Any]]


class App:
    """Everything one bot process runs. Build with ``build_app``."""

    def __init__(
        self,
        *,
        settings: Settings,
        bot: Bot,
        notifier_bot: Bot,
        dispatcher: Dispatcher,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        nowpayments: NowPaymentsClient,
        notifier: Notifier,
        polling: UpdatePolling,
        lock: PollingLock | None,
        payment_poller: BackgroundService | None,
        metrics: Metrics,
        health: Health,
        http: HttpEndpoint | None = None,
        closers: Sequence[Closer] = (),
    ) -> None:
        self.settings = settings
        self.bot = bot
        self.notifier_bot = notifier_bot
        self.dispatcher = dispatcher
        self.engine = engine
        self.sessions = sessions
        self.nowpayments = nowpayments
        self.notifier = notifier
        self.polling = polling
        self.lock = lock
        self.payment_poller = payment_poller
        self.metrics = metrics
        self.health = health
        self.http = http
        self.failed = False
        self._closers = list(closers)
        self._stop = asyncio.Event()
        self._services: dict[str, asyncio.Task[None]] = {}
        self._started = False
        self._closed = False

    def polling_running(self) -> bool:
        task = self._services.get("polling")
        return task is not None and not task.done()

    async def start(self) -> None:
        """Take the polling lock, check the token, delete any webhook, publish the commands and
        start polling, the notifier and the payment poller. Raises AlreadyRunning, ConfigError
        (the token was refused) or a connection error; everything is closed again then."""
        metrics.install(self.metrics)
        warning = login_warning(self.settings)
        if warning:
            log.warning("%s", warning)
        try:
            if self.lock is not None:
                await self.lock.acquire()
                await self._release_dead_claims()
            await roles.warn_if_privileged(self.engine)
            try:
                me = await self.bot.me()
            except TelegramUnauthorizedError:
                raise ConfigError(
                    "invalid",
                    detail="telegram.bot_token: Telegram refused the token (revoked or mistyped;"
                    " get the current one from @BotFather)",
                ) from None
            # Polling gets 409 while a webhook is set.
            await self.bot.delete_webhook(drop_pending_updates=False)
            await self._publish_commands()
            await self.dispatcher.emit_startup(**self._event_data())
            self._started = True
            if self.http is not None:
                await self.http.start()
        except BaseException:
            await self._close()
            raise
        self._spawn("polling", self.polling.run(self._stop))
        self._spawn("notifier", self.notifier.run_forever(self._stop))
        if self.payment_poller is not None:
            self._spawn("payment poller", self.payment_poller.run_forever(self._stop))
        if self.lock is not None:
            self._spawn("polling lock", self.lock.watch(self._stop))
        log.info("bot @%s (id %s) is running", me.username, me.id)

    def request_stop(self) -> None:
        if not self._stop.is_set():
            log.info("stopping")
        self._stop.set()

    async def wait(self) -> None:
        """Until a stop is requested or a service ends on its own (then ``failed`` is set)."""
        await self._stop.wait()

    async def stop(self) -> None:
        """Stop polling, give in-flight handlers, the notifier's current send and the poller's
        round ``telegram.shutdown_grace_seconds`` in all to finish, then close everything."""
        if self._closed:
            return
        self._stop.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.telegram.shutdown_grace_seconds
        polling = self._services.get("polling")
        if polling is not None:
            polling.cancel()  # ends the pending long poll now (see UpdatePolling.run)
            await asyncio.wait([polling])
            await self.polling.confirm()
        busy = [*self.polling.handlers, *self._services.values()]
        if self.polling.handlers:
            log.info("waiting for %s in-flight handlers", len(self.polling.handlers))
        cut = await wait_bounded(busy, deadline)
        if cut:
            log.warning(
                "shutdown grace ran out; cancelled: %s", ", ".join(t.get_name() for t in cut)
            )
        await self._close()

    async def __aenter__(self) -> App:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- internals ----------------------------------------------------------------------------

    def _event_data(self) -> dict[str, Any]:
        return {**self.dispatcher.workflow_data, "dispatcher": self.dispatcher, "bot": self.bot}

    async def _release_dead_claims(self) -> None:
        """We hold the polling lock, so whoever claimed outbox rows or leased payments before us
        is dead: hand all of it back now instead of waiting out the leases."""
        async with self.sessions.begin() as session:
            rows = await outbox.release_claims(session)
            payments = await release_leases(session)
        if rows or payments:
            log.warning(
                "took over from a stopped process: %s outbox rows and %s payments released",
                rows,
                payments,
            )

    def _spawn(self, name: str, work: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s crashed", name)
                self.failed = True
            else:
                if not self._stop.is_set():
                    log.error("%s ended on its own", name)
                    self.failed = True
            finally:
                self._stop.set()  # one service down takes the process down: a supervisor restarts

        self._services[name] = asyncio.create_task(guarded(), name=name)

    async def _publish_commands(self) -> None:
        """Best effort: a bot that cannot set its command list still works. Users' menus per
        language: English as the default, each other locale for its language_code; the admin
        chat's in the admin language (and per language_code too, so a Russian-speaking admin's
        client does not fall back to the users' default list there)."""
        for locale in LOCALES:
            code = None if locale == DEFAULT_LOCALE else locale
            with use_locale(locale):
                private = [BotCommand(command=c, description=d) for c, d in texts.USER_COMMANDS]
            try:
                await self.bot.set_my_commands(
                    private, scope=BotCommandScopeAllPrivateChats(), language_code=code
                )
            except TelegramAPIError as exc:
                log.warning("could not set the user commands (%s): %s", locale, exc)
        admin_chat = self.settings.telegram.admin_chat_id
        if admin_chat is None:
            return
        with use_locale(self.settings.telegram.admin_language):
            admin = [BotCommand(command=c, description=d) for c, d in texts.ADMIN_COMMANDS]
        for locale in LOCALES:
            code = None if locale == DEFAULT_LOCALE else locale
            try:
                await self.bot.set_my_commands(
                    admin, scope=BotCommandScopeChat(chat_id=admin_chat), language_code=code
                )
            except TelegramAPIError as exc:
                log.warning("could not set the admin commands in chat %s: %s", admin_chat, exc)

    async def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        steps: list[tuple[str, Closer]] = []
        if self.http is not None:
            steps.append(("health endpoint", self.http.stop))
        if self._started:
            steps.append(("dispatcher shutdown", lambda: self._emit_shutdown()))
        steps += [
            ("bot session", self.bot.session.close),
            ("notifier bot session", self.notifier_bot.session.close),
        ]
        if self.lock is not None:
            steps.append(("polling lock", self.lock.release))
        steps += [(getattr(c, "__qualname__", "closer"), c) for c in self._closers]
        for name, close in steps:
            try:
                await close()
            except Exception:
                log.exception("closing %s failed", name)
        if metrics.installed() is self.metrics:
            metrics.install(None)

    async def _emit_shutdown(self) -> None:
        await self.dispatcher.emit_shutdown(**self._event_data())


def build_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    nowpayments: NowPaymentsClient | None = None,
    routers: Sequence[Router] | None = None,
    renderers: Mapping[str, Renderer] | None = None,
    storage: BaseStorage | None = None,
    notifier_tuning: NotifierTuning | None = None,
    polling_timeout: int = 25,
    payment_poller: bool = True,
    lock: bool = True,
    throttle_clock: Clock = time.monotonic,
) -> App:
    """Wire the process from settings. Injected objects are the caller's to close; what is built
    here is closed by ``App.stop()``. Raises ConfigError (e.g. a malformed token)."""
    bot = create_bot(settings.telegram)
    notifier_bot = create_bot(settings.telegram, retry=False)
    # Innermost, after create_bot's middlewares: every attempt is counted.
    bot.session.middleware(CountRequests("updates"))
    notifier_bot.session.middleware(CountRequests("notifier"))
    closers: list[Closer] = []
    if nowpayments is None:
        nowpayments = NowPaymentsClient.from_settings(
            settings.nowpayments, transport=CountingTransport()
        )
        closers.append(nowpayments.aclose)
    if engine is None:
        engine = create_engine(
            database_url(settings.database),
            pool_size=settings.database.pool_size,
            echo=settings.database.echo,
        )
        closers.append(engine.dispose)
    sessions = create_session_factory(engine)
    services = build_services(sessions, settings, nowpayments)
    if renderers is None:  # the admin chat's cards and alerts over the plain defaults
        renderers = {**RENDERERS, **admin.create_renderers(services.withdrawals), **ADJUSTED}
    notifier = Notifier(
        notifier_bot,
        sessions,
        settings.notifier,
        renderers=renderers,
        tuning=notifier_tuning,
        alerts=outbox.AlertRoute(settings.telegram.admin_chat_id, settings.telegram.admin_ids),
        admin_language=settings.telegram.admin_language,
    )
    # One catalogue cache for the background sync and an admin's sync button.
    catalog = CurrencyCatalog(nowpayments)
    dispatcher = create_dispatcher(
        settings.telegram,
        engine=engine,
        sessions=sessions,
        routers=get_routers(*user_flows(), admin.create_router()) if routers is None else routers,
        storage=storage,
        throttle_clock=throttle_clock,
        settings=settings,
        nowpayments=nowpayments,
        catalog=catalog,
        notifier=notifier,
        **services.workflow_data(),
    )
    url = engine.url.render_as_string(hide_password=False)
    polling = UpdatePolling(dispatcher, bot, timeout=polling_timeout)
    registry = Metrics()
    loops = ("telegram", "poller", "notifier") if payment_poller else ("telegram", "notifier")
    health = Health(
        registry,
        sessions,
        Freshness.from_settings(settings, polling_timeout=polling_timeout),
        components=loops,
    )
    observability = settings.observability
    http = (
        HttpEndpoint(health, observability.http_host, observability.http_port)
        if observability.http_port is not None
        else None
    )
    app = App(
        settings=settings,
        bot=bot,
        notifier_bot=notifier_bot,
        dispatcher=dispatcher,
        engine=engine,
        sessions=sessions,
        nowpayments=nowpayments,
        notifier=notifier,
        polling=polling,
        lock=PollingLock(url, bot.id) if lock else None,
        payment_poller=(
            # The deposit service's policy: one per process, shared with the handlers.
            PaymentBackground(
                sessions, nowpayments, settings, catalog, policy=services.deposits.policy
            )
            if payment_poller
            else None
        ),
        metrics=registry,
        health=health,
        http=http,
        closers=closers,
    )
    health.polling_running = app.polling_running
    return app


def _say(message: str) -> None:
    # stderr directly: these end the process and must be readable without any log set-up.
    sys.stderr.write(f"paybot: {redact(message)}\n")
    sys.stderr.flush()


async def run_app(settings: Settings) -> ExitCode:
    """``python -m bot run``: until SIGINT/SIGTERM, then a graceful stop. OK on a requested
    stop, FAILED if a service died, CONFIG for a configuration problem, ALREADY_RUNNING if
    another instance already polls with this token."""
    try:
        app = build_app(settings)
    except ConfigError as exc:
        _say(f"configuration error\n{exc.params.get('detail', exc)}")
        return ExitCode.CONFIG
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, app.request_stop)
    try:
        try:
            await app.start()
        except ConfigError as exc:
            _say(f"configuration error\n{exc.params.get('detail', exc)}")
            return ExitCode.CONFIG
        except AlreadyRunning as exc:
            _say(str(exc))
            return ExitCode.ALREADY_RUNNING
        except Exception as exc:  # noqa: BLE001 - database or Telegram unreachable: say so, no traceback
            _say(f"could not start: {type(exc).__name__}: {exc}")
            return ExitCode.FAILED
        tune_gc()
        try:
            await app.wait()
        finally:
            await app.stop()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    return ExitCode.FAILED if app.failed else ExitCode.OK
