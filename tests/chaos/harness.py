"""Crash harness: the real ``python -m bot run`` against the Telegram and NOWPayments fakes, a
mixed money workload, and SIGKILL at random moments.

The driver (this process) plays users, admins and the provider: it creates deposits through
``DepositService.create`` (what the bot's deposit flow calls) and scripts the fake's
answers (finished, partial, over-paid, expired, failed, and late: paid after it expired), asks
for withdrawals, approves them by pressing the card's button in the admin chat (handled by the
bot, so a kill can cut it off: the driver presses again later), rejects, cancels, processes
and completes them through the services, and has users block the bot and come back. The bot
process polls the provider, settles and credits, and sends every push.

After every kill ``core.invariants`` must find nothing (the invariants hold at every commit).
After the last restart the harness waits (polling, with a deadline) until everything settled:
no payment still open, no push pending, no update unhandled; then it counts each push at the
Telegram fake: none lost, none sent more often than it was claimed (a kill between Telegram's
accept and our commit costs one more send; the tally counts pushes sent three times or more).

A restarted process takes over a killed one's claims at start (bot/app.py). With
``expire_notifier_leases`` the harness also ends them by SQL right after each kill, which
makes no difference since that take-over (``--real-notifier-lease`` in the soak turns it off);
payments use ``payments.poll_lease_seconds`` (short here). Randomness comes from one seed,
printed, so a failing workload can be replayed (process timing still varies).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.callbacks import AdminWithdrawalAction, AdminWithdrawalCallback
from bot.notifier import RENDERERS
from bot.reports.adjustments import RENDERERS as ADJUSTED
from core import ledger
from core.admin import Adjustments
from core.auth import AdminGate
from core.config import (
    NotifierSettings,
    NowPaymentsSettings,
    PaymentsSettings,
    Settings,
    TelegramSettings,
)
from core.db.models import TxType, User
from core.db.session import create_engine, create_session_factory
from core.deposits import DepositService
from core.errors import PaybotError
from core.invariants import check_database
from core.nowpayments import NowPaymentsClient
from core.outbox import OutboxMessage
from core.withdrawals import WithdrawalService
from tests.fakes.nowpayments import FakeNowPayments
from tests.fakes.telegram import FakeTelegram
from tests.support.money import ADDRESSES, TX_HASHES, add_currencies
from tests.support.process import ForkedBot, ForkServer, child_env
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
ADMIN_CHAT = -1_005_550_001
ADMIN_ID = 700_300_001
as_admin = AdminGate([ADMIN_ID]).authorize
FIRST_USER = 880_000_001
POLL_SECONDS = 0.25
POLL_LEASE_SECONDS = 3.0
# Scenario → weight. "late": the provider says expired, then the money arrives.
SCENARIOS = {
    "finished": 40,
    "partially_paid": 15,
    "overpaid": 10,
    "expired": 10,
    "late": 10,
    "failed": 10,
    "refunded": 5,
}
OPEN_PAYMENTS = tuple(sorted({"creating", "waiting", "confirming", "confirmed", "sending"}))


@dataclass
class CrashOptions:
    kills: int = 10
    seed: int | None = None
    users: int = 6
    max_uptime: float = 1.0  # a ready bot lives up to this long before the kill
    early_kill_share: float = 0.2  # kills while the process is still starting
    settle_timeout: float = 60.0
    expire_notifier_leases: bool = True
    log: Callable[[str], None] = lambda line: None


@dataclass
class Tally:
    seed: int
    kills: int = 0
    starts: int = 0
    seconds: float = 0.0
    deposits: Counter[str] = field(default_factory=Counter)  # by scenario
    payments: Counter[str] = field(default_factory=Counter)  # by end status
    credited: int = 0
    withdrawals: Counter[str] = field(default_factory=Counter)  # by end status
    presses: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # the driver's refused requests
    blocks: int = 0
    pushes: int = 0  # outbox rows to users
    delivered: int = 0
    skipped: int = 0  # the user had blocked the bot
    duplicated: int = 0  # sent twice
    over_twice: int = 0  # rows sent 3+ times: a claim cut off by a kill each time
    unexplained: int = 0  # sends beyond the row's claims
    notes: list[str] = field(default_factory=list)
    lost: int = 0
    cards: int = 0
    cards_duplicated: int = 0
    cards_lost: int = 0
    checks: int = 0
    violations: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    settled: bool = False
    exit_code: int | None = None

    @property
    def ok(self) -> bool:
        return (
            self.settled
            and not self.violations
            and not self.problems
            and self.exit_code == 0
            and self.lost == self.unexplained == self.cards_lost == 0
        )

    def report(self) -> str:
        return "\n".join(
            [
                f"seed {self.seed}: {self.kills} kills, {self.starts} starts,"
                f" {self.seconds:.1f} s, settled {self.settled}, last exit {self.exit_code}",
                f"deposits {sum(self.deposits.values())} {dict(sorted(self.deposits.items()))}",
                f"payments by end status {dict(sorted(self.payments.items()))},"
                f" credited {self.credited}",
                f"withdrawals {sum(self.withdrawals.values())}"
                f" {dict(sorted(self.withdrawals.items()))}, approve presses {self.presses}",
                f"refused requests {dict(sorted(self.refused.items()))}",
                f"pushes {self.pushes}: delivered {self.delivered}, duplicated {self.duplicated},"
                f" sent 3+ times {self.over_twice}, beyond their claims {self.unexplained},"
                f" lost {self.lost}, skipped (blocked)"
                f" {self.skipped}; users blocking {self.blocks}",
                f"admin cards {self.cards}: duplicated {self.cards_duplicated},"
                f" lost {self.cards_lost}",
                f"checker runs {self.checks}, violations {len(self.violations)}",
                *[f"  violation: {v}" for v in self.violations[:20]],
                *[f"  problem: {p}" for p in self.problems[:20]],
                *[f"  note: {n}" for n in self.notes[:20]],
            ]
        )


def bot_env(tg: FakeTelegram, np: FakeNowPayments, db_url: str) -> dict[str, str]:
    env = child_env()
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PAYBOT_TELEGRAM__BOT_TOKEN": tg.token,
            "PAYBOT_TELEGRAM__ADMIN_CHAT_ID": str(ADMIN_CHAT),
            "PAYBOT_TELEGRAM__ADMIN_IDS": f"[{ADMIN_ID}]",
            "PAYBOT_TELEGRAM__API_BASE_URL": tg.api_base,
            "PAYBOT_TELEGRAM__SHUTDOWN_GRACE_SECONDS": "2",
            "PAYBOT_TELEGRAM__THROTTLE_PER_SECOND": "100",
            "PAYBOT_NOWPAYMENTS__API_KEY": np.api_key,
            "PAYBOT_NOWPAYMENTS__BASE_URL": np.base_url,
            "PAYBOT_NOWPAYMENTS__MAX_REQUESTS_PER_SECOND": "1000",
            "PAYBOT_DATABASE__URL": db_url,
            "PAYBOT_PAYMENTS__POLL_INTERVAL_SECONDS": str(POLL_SECONDS),
            "PAYBOT_PAYMENTS__POLL_LEASE_SECONDS": str(POLL_LEASE_SECONDS),
            "PAYBOT_NOTIFIER__GLOBAL_PER_SECOND": "500",
            "PAYBOT_NOTIFIER__PER_CHAT_PER_SECOND": "50",
            "PAYBOT_NOTIFIER__GROUP_PER_MINUTE": "3000",
            "PAYBOT_LOGGING__LEVEL": "INFO",
        }
    )
    return env


def driver_settings() -> Settings:
    """The same rules as the bot process gets from bot_env."""
    return Settings(
        telegram=TelegramSettings(admin_chat_id=ADMIN_CHAT, admin_ids=[ADMIN_ID]),
        nowpayments=NowPaymentsSettings(),
        payments=PaymentsSettings(poll_interval_seconds=POLL_SECONDS),
        notifier=NotifierSettings(),
    )


class Bot:
    """One ``python -m bot run``, forked by the fork server (tests/support/zygote.py: importing
    aiogram's types costs seconds of CPU per interpreter, and this run starts a dozen)."""

    def __init__(self, forked: ForkedBot, mark: int) -> None:
        self.forked = forked
        self.mark = mark  # the fake's call log position when it started

    @property
    def alive(self) -> bool:
        return self.forked.returncode is None

    @property
    def returncode(self) -> int | None:
        """None while it runs; minus the signal when killed."""
        return self.forked.returncode

    async def kill(self) -> None:
        self.forked.kill()
        await self.forked.finish(10)

    async def stop(self, timeout: float) -> int:  # noqa: ASYNC109
        """SIGTERM, then SIGKILL after ``timeout``; its status."""
        self.forked.send_signal(signal.SIGTERM)
        code, _ = await self.forked.finish(timeout)
        return code


class Driver:
    """The users, the admins and the provider's side of the workload."""

    def __init__(
        self,
        rng: random.Random,
        sessions: async_sessionmaker[AsyncSession],
        tg: FakeTelegram,
        np: FakeNowPayments,
        client: NowPaymentsClient,
        users: list[User],
        tally: Tally,
    ) -> None:
        self.rng = rng
        self.sessions = sessions
        self.tg = tg
        self.np = np
        self.users = users
        self.tally = tally
        self.settings = driver_settings()
        self.deposits = DepositService(sessions, client, self.settings)
        self.withdrawals = WithdrawalService(sessions, self.settings)
        self.late: dict[int, str] = {}  # payment id -> provider id, paid after expiry
        self.blocked: set[int] = set()
        self.stop = asyncio.Event()

    async def run(self) -> None:
        while not self.stop.is_set():
            try:
                await self.step()
            except PaybotError as exc:  # limits, a decision already taken: part of the load
                self.tally.refused[f"{type(exc).__name__}:{exc.code}"] += 1
            await asyncio.sleep(self.rng.uniform(0.05, 0.25))

    async def step(self) -> None:
        await self.pay_late()
        roll = self.rng.random()
        user = self.rng.choice(self.users)
        if roll < 0.35:
            await self.deposit(user)
        elif roll < 0.55:
            await self.withdraw(user)
        elif roll < 0.97:
            await self.decide()
        else:
            self.block_or_return(user)

    async def deposit(self, user: User) -> None:
        scenario = self.rng.choices(list(SCENARIOS), weights=list(SCENARIOS.values()))[0]
        view = await self.deposits.create(
            user_id=user.id,
            amount_usd=Decimal(self.rng.randint(20, 150)),
            currency_code="BTC",
        )
        assert view.provider_payment_id is not None
        pid = view.provider_payment_id
        if scenario == "late":
            self.np.script(pid, ["waiting", "expired"])
            self.late[view.id] = pid
        else:
            self.np.play(pid, scenario)
        self.tally.deposits[scenario] += 1

    async def pay_late(self) -> None:
        if not self.late:
            return
        async with self.sessions() as session:
            rows = await session.execute(
                text("SELECT id FROM payments WHERE id = ANY(:ids) AND status = 'expired'"),
                {"ids": list(self.late)},
            )
            expired = [r.id for r in rows]
        for payment_id in expired:
            pid = self.late.pop(payment_id)
            fake = self.np.payment(pid)
            self.np.set_status(pid, "finished", actually_paid=fake.pay_amount)

    async def withdraw(self, user: User) -> None:
        async with self.sessions() as session:
            balance = (await ledger.get_balance(session, user.id)).balance
        if balance < Decimal("12.00"):
            return
        top = int(min(balance, Decimal("80")))
        await self.withdrawals.request(
            user_id=user.id,
            currency_code="BTC",
            amount=Decimal(self.rng.randint(10, top)),
            address=ADDRESSES["BTC"],
        )

    async def decide(self) -> None:
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT w.id, w.status, w.admin_chat_message_id, w.user_id"
                        " FROM withdrawal_requests w"
                        " WHERE w.status IN ('pending', 'approved', 'processing') ORDER BY w.id"
                    )
                )
            ).all()
        if not rows:
            return
        w = self.rng.choice(rows)
        roll = self.rng.random()
        if w.status == "pending":
            # Admins decide from the card, so not before it is posted; the owner may cancel.
            if roll < 0.1:
                await self.withdrawals.cancel(w.id, user_id=w.user_id)
            elif not self.card_posted(w.admin_chat_message_id):
                return
            elif roll < 0.7:
                self.press_approve(w.id, w.admin_chat_message_id)
            else:
                await self.withdrawals.reject(w.id, admin=as_admin(ADMIN_ID), reason="chaos")
        elif w.status == "approved":
            if roll < 0.8:
                await self.withdrawals.start_processing(w.id, admin=as_admin(ADMIN_ID))
            else:
                await self.withdrawals.reject(w.id, admin=as_admin(ADMIN_ID), reason="chaos")
        else:
            await self.withdrawals.complete(
                w.id, admin=as_admin(ADMIN_ID), tx_hash=TX_HASHES["BTC"]
            )

    def card_posted(self, card: int | None) -> bool:
        return card is not None and card in self.tg.messages.get(ADMIN_CHAT, {})

    def press_approve(self, withdrawal_id: int, card: int | None) -> None:
        """Through the bot (it may be down: the press waits, or a kill loses it and the admin
        presses again later)."""
        assert card is not None
        data = AdminWithdrawalCallback(id=withdrawal_id, action=AdminWithdrawalAction.APPROVE)
        self.tg.press_button(ADMIN_ID, card, ADMIN_CHAT, data.pack(), check_button=False)
        self.tally.presses += 1

    def block_or_return(self, user: User) -> None:
        if self.blocked and self.rng.random() < 0.6:
            back = self.rng.choice(sorted(self.blocked))
            self.blocked.discard(back)
            self.tg.send_text(back, "/start")  # writing again unblocks
        elif len(self.blocked) < len(self.users) // 2:
            self.blocked.add(user.telegram_id)
            self.tg.block_chat(user.telegram_id)
            self.tally.blocks += 1


async def make_users(
    sessions: async_sessionmaker[AsyncSession], tg: FakeTelegram, count: int
) -> list[User]:
    async with sessions.begin() as session:
        users = [
            User(telegram_id=FIRST_USER + i, first_name=f"Chaos{i}", language="en")
            for i in range(count)
        ]
        session.add_all(users)
    for user in users:
        tg.add_chat(user.telegram_id, first_name=user.first_name or "Chaos")
    return users


async def fund(sessions: async_sessionmaker[AsyncSession], users: list[User]) -> None:
    """A bonus each, through the admin service, so withdrawals start with the first step."""
    adjustments = Adjustments(sessions)
    for user in users:
        await adjustments.post(
            user.telegram_id,
            Decimal("150.00"),
            "chaos start",
            admin=as_admin(ADMIN_ID),
            key=f"chaos:{user.id}",
            kind=TxType.BONUS,
        )


async def expire_notifier_leases(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The killed process's claims end now (what the next start's take-over also does)."""
    async with sessions.begin() as session:
        await session.execute(
            text(
                "UPDATE notifications SET next_attempt_at = now()"
                " WHERE state = 'pending' AND next_attempt_at > now()"
            )
        )


async def _settled(sessions: async_sessionmaker[AsyncSession], tg: FakeTelegram) -> bool:
    async with sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT (SELECT count(*) FROM payments WHERE status = ANY(:open)) AS payments,"
                    " (SELECT count(*) FROM notifications WHERE state = 'pending') AS pushes"
                ),
                {"open": list(OPEN_PAYMENTS)},
            )
        ).one()
    return row.payments == 0 and row.pushes == 0 and tg.pending_updates == 0


async def count_pushes(
    sessions: async_sessionmaker[AsyncSession], tg: FakeTelegram, tally: Tally
) -> None:
    """Every outbox row to a user, rendered as the bot renders it, against what the fake got."""
    sent: Counter[tuple[Any, str]] = Counter(
        (c.chat_id, c.params.get("text", ""))
        for c in tg.calls("sendMessage")
        if c.ok and isinstance(c.chat_id, int) and c.chat_id > 0
    )
    groups: dict[tuple[int, str], list[str]] = {}
    claims: Counter[tuple[int, str]] = Counter()
    async with sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT id, chat_id, kind, payload, dedup_key, attempts, created_at, state"
                    " FROM notifications WHERE chat_id > 0 ORDER BY id"
                )
            )
        ).all()
        for r in rows:
            message = OutboxMessage(
                r.id, r.chat_id, r.kind, r.payload, r.dedup_key, r.attempts, r.created_at
            )
            rendered = await {**RENDERERS, **ADJUSTED}[r.kind](message, session)
            groups.setdefault((r.chat_id, rendered.text), []).append(r.state)
            claims[(r.chat_id, rendered.text)] += r.attempts
            if r.state not in ("sent", "skipped"):
                tally.problems.append(f"push {r.dedup_key} ended {r.state}")
    for (chat_id, body), states in groups.items():
        count = sent[(chat_id, body)]
        tally.pushes += len(states)
        tally.skipped += states.count("skipped")
        delivered = states.count("sent")
        tally.delivered += min(count, len(states))
        unseen = delivered - count + states.count("pending") + states.count("failed")
        if unseen > 0:
            tally.lost += unseen
            tally.problems.append(f"chat {chat_id}: {unseen} push(es) lost: {body[:60]!r}")
        tally.duplicated += max(0, count - len(states))
        if count > 2 * len(states):
            tally.over_twice += 1
            tally.notes.append(f"chat {chat_id}: sent {count} times: {body[:60]!r}")
        # Each send needs a claim: more sends than claims is a duplicate no crash explains.
        if count > claims[(chat_id, body)]:
            tally.unexplained += count - claims[(chat_id, body)]
            tally.problems.append(
                f"chat {chat_id}: sent {count} times, claimed {claims[(chat_id, body)]}:"
                f" {body[:60]!r}"
            )


async def count_cards(
    sessions: async_sessionmaker[AsyncSession], tg: FakeTelegram, tally: Tally
) -> None:
    """One card per withdrawal in the admin chat, posted once and then edited: posted again
    only when a kill cut off the claim that posted it (posts <= claims of its card rows)."""
    posts = [c.params.get("text", "") for c in tg.calls("sendMessage", ADMIN_CHAT) if c.ok]
    async with sessions() as session:
        rows = (
            await session.execute(
                text(
                    """
                    SELECT w.internal_withdrawal_id, w.admin_chat_message_id, w.status,
                           coalesce(sum(n.attempts), 0) AS claims
                      FROM withdrawal_requests w
                      LEFT JOIN notifications n ON n.kind = 'withdrawal_card'
                           AND (n.payload->>'withdrawal_id')::bigint = w.id
                     GROUP BY w.id ORDER BY w.id
                    """
                )
            )
        ).all()
    stored = tg.messages.get(ADMIN_CHAT, {})
    for r in rows:
        tally.withdrawals[r.status] += 1
        tally.cards += 1
        count = sum(r.internal_withdrawal_id in body for body in posts)
        if count == 0 or r.admin_chat_message_id not in stored:
            tally.cards_lost += 1
            tally.problems.append(f"withdrawal {r.internal_withdrawal_id}: no card")
        elif count > r.claims:
            tally.unexplained += count - r.claims
            tally.problems.append(
                f"withdrawal {r.internal_withdrawal_id}: {count} cards, {r.claims} claims"
            )
        elif count > 2:
            tally.notes.append(f"withdrawal {r.internal_withdrawal_id}: {count} cards")
        tally.cards_duplicated += max(0, count - 1)


async def _final_counts(sessions: async_sessionmaker[AsyncSession], tally: Tally) -> None:
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT status, count(*) AS n, count(*) FILTER (WHERE credited_usd > 0) AS c"
                " FROM payments GROUP BY status"
            )
        )
        for r in rows:
            tally.payments[r.status] += r.n
            tally.credited += r.c


async def _check(sessions: async_sessionmaker[AsyncSession], tally: Tally, when: str) -> None:
    found = await check_database(sessions)
    tally.checks += 1
    tally.violations.extend(f"{when}: {v}" for v in found)


async def run_crash(db_url: str, options: CrashOptions, forks: ForkServer | None = None) -> Tally:
    """Kill the bot ``options.kills`` times under load; settle; count. ``db_url``: a migrated,
    empty database of the caller's; ``forks``: the test process's fork server, else one of the
    run's own."""
    own_forks = forks is None
    forks = forks or ForkServer()
    try:
        return await _run_crash(db_url, options, forks)
    finally:
        if own_forks:
            forks.close()


async def _run_crash(db_url: str, options: CrashOptions, forks: ForkServer) -> Tally:
    seed = options.seed if options.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    tally = Tally(seed=seed)
    say = options.log
    say(f"crash run: seed {seed}, {options.kills} kills")
    began = time.monotonic()
    engine = create_engine(db_url, pool_size=5)
    sessions = create_session_factory(engine)
    log_path = Path(tempfile.gettempdir()) / f"paybot_crash_{seed}.log"
    bots: list[Bot] = []
    async with FakeTelegram() as tg, FakeNowPayments(seed=seed) as np:
        tg.max_poll_timeout = 1.0
        tg.add_chat(ADMIN_CHAT, title="admins")
        await add_currencies(sessions)
        users = await make_users(sessions, tg, options.users)
        await fund(sessions, users)
        client = NowPaymentsClient(
            np.api_key, np.base_url, max_retries=0, max_requests_per_second=10_000.0
        )
        driver = Driver(rng, sessions, tg, np, client, users, tally)
        env = bot_env(tg, np, db_url)
        work = asyncio.create_task(driver.run())
        bot: Bot | None = None
        try:
            for _ in range(options.kills):
                bot = await _go(forks, env, tg, tally, bots)
                if rng.random() < options.early_kill_share:
                    await asyncio.sleep(rng.uniform(0.0, 0.5))
                else:
                    await _working(bot, tg, np)
                    await asyncio.sleep(rng.uniform(0.0, options.max_uptime))
                await bot.kill()
                tally.kills += 1
                if options.expire_notifier_leases:
                    await expire_notifier_leases(sessions)
                await _check(sessions, tally, f"after kill {tally.kills}")
                say(
                    f"kill {tally.kills} at {time.monotonic() - began:.1f} s:"
                    f" {len(tally.violations)} violations so far"
                )
            driver.stop.set()
            await work
            bot = await _go(forks, env, tg, tally, bots)
            await _ready(bot, tg)
            tally.settled = await wait_until(
                lambda: _drain_late(driver, sessions, tg), options.settle_timeout, 0.2
            )
            tally.exit_code = await bot.stop(timeout=20)
        finally:
            if bot is not None:  # an error above: no process may outlive the run
                await bot.kill()
            driver.stop.set()
            if not work.done():
                work.cancel()
            with contextlib.suppress(BaseException):
                await work
            await client.aclose()
        await _check(sessions, tally, "at the end")
        await count_pushes(sessions, tg, tally)
        await count_cards(sessions, tg, tally)
        await _final_counts(sessions, tally)
        if tg.internal_errors:
            tally.problems.append(f"fake Telegram errors: {tg.internal_errors[:3]}")
    await engine.dispose()
    tally.seconds = time.monotonic() - began
    if not tally.ok:
        log_path.write_text("".join(f"--- bot {b.forked.pid}\n{b.forked.stderr}" for b in bots))
        tally.problems.append(f"bot logs: {log_path}")
    return tally


async def _drain_late(
    driver: Driver, sessions: async_sessionmaker[AsyncSession], tg: FakeTelegram
) -> bool:
    await driver.pay_late()
    return not driver.late and await _settled(sessions, tg)


async def _go(
    forks: ForkServer, env: dict[str, str], tg: FakeTelegram, tally: Tally, bots: list[Bot]
) -> Bot:
    """A new process; while the killed one's polling lock is still held (exit 3), another."""
    for _ in range(50):
        bot = Bot(await forks.start(env), tg.mark())
        bots.append(bot)
        tally.starts += 1
        exited = await wait_until(lambda: not bot.alive, 0.3)  # noqa: B023
        if not exited or bot.returncode != 3:
            return bot
    raise RuntimeError("the bot would not start (polling lock held)")


async def _working(
    bot: Bot,
    tg: FakeTelegram,
    np: FakeNowPayments,
    timeout: float = 20.0,  # noqa: ASYNC109
) -> None:
    """Until the process does the work a kill should cut into: it polls the provider or
    sends (a process is ready to talk well before its services run)."""
    await _ready(bot, tg, timeout)
    polls = np.requests["get_payment"]

    def busy() -> bool:
        return (
            not bot.alive
            or np.requests["get_payment"] > polls
            or any(c.seq >= bot.mark for c in tg.calls("sendMessage")[-3:])
        )

    await wait_until(busy, timeout)


async def _ready(bot: Bot, tg: FakeTelegram, timeout: float = 60.0) -> None:  # noqa: ASYNC109
    """Until the process has published its commands: its services start right after. (A
    getUpdates could still be the killed process's long poll being answered.)"""

    def started() -> bool:
        return not bot.alive or any(c.seq >= bot.mark for c in tg.calls("setMyCommands")[-2:])

    if not await wait_until(started, timeout):
        raise TimeoutError("the bot did not start")


__all__ = ["CrashOptions", "Tally", "run_crash"]
