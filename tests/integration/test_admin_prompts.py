"""core.admin.prompts against a real database: a question is answered once, by the admin who
asked it, before it expires; everything else is refused and changes nothing."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core.admin import (
    CONFIRMATIONS,
    WITHDRAWAL_QUESTIONS,
    AdjustmentPlan,
    AdjustmentTerms,
    AdminPrompts,
    Person,
    PromptAction,
    Refusal,
    Taken,
    WithdrawalPrompt,
)
from core.db.models import TxType, WithdrawalStatus
from tests.support.db import Db, make_user, new_withdrawal
from tests.support.withdrawals import ADMIN_A, ADMIN_B, ADMIN_CHAT, as_admin

D = Decimal
_messages = itertools.count(1)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def message_id() -> int:
    # Unique per test run: the shared database keeps every test's rows.
    return int(datetime.now(UTC).timestamp() * 1000) * 1000 + next(_messages)


def plan(telegram_id: int, kind: TxType = TxType.BONUS) -> AdjustmentPlan:
    return AdjustmentPlan(Person(telegram_id), kind, D("5.00"), "welcome", D("10.00"))


async def test_a_question_is_answered_once_by_the_admin_who_asked(db: Db) -> None:
    clock = Clock()
    prompts = AdminPrompts(db.sessions, now=clock)
    user = await make_user(db.sessions)
    asked = message_id()
    await prompts.ask_adjustment(ADMIN_CHAT, asked, admin=as_admin(ADMIN_A), plan=plan(42))

    assert await prompts.take(ADMIN_CHAT, asked, admin=as_admin(ADMIN_B), kinds=CONFIRMATIONS) == (
        Refusal.NOT_YOURS
    )
    # a reply (the withdrawal questions' kinds) cannot use up a confirmation
    assert await prompts.take(
        ADMIN_CHAT, asked, admin=as_admin(ADMIN_A), kinds=WITHDRAWAL_QUESTIONS
    ) == (Refusal.UNKNOWN)
    taken = await prompts.take(ADMIN_CHAT, asked, admin=as_admin(ADMIN_A), kinds=CONFIRMATIONS)
    assert taken == Taken(
        f"{ADMIN_CHAT}:{asked}:20261203T120000000000",
        AdjustmentTerms(TxType.BONUS, 42, D("5.00"), "welcome"),
    )
    again = await prompts.take(ADMIN_CHAT, asked, admin=as_admin(ADMIN_A), kinds=CONFIRMATIONS)
    assert again is Refusal.USED

    await prompts.give_back(ADMIN_CHAT, asked, admin=as_admin(ADMIN_B))  # not theirs: no-op
    assert await prompts.take(ADMIN_CHAT, asked, admin=as_admin(ADMIN_A), kinds=CONFIRMATIONS) == (
        Refusal.USED
    )
    await prompts.give_back(ADMIN_CHAT, asked, admin=as_admin(ADMIN_A))
    assert isinstance(
        await prompts.take(ADMIN_CHAT, asked, admin=as_admin(ADMIN_A), kinds=CONFIRMATIONS), Taken
    )

    async with db.sessions.begin() as session:
        withdrawal_id = await new_withdrawal(session, user.id, D("20.00"))
    question = message_id()
    await prompts.ask_withdrawal(
        ADMIN_CHAT,
        question,
        admin=as_admin(ADMIN_B),
        action=PromptAction.REJECT,
        withdrawal_id=withdrawal_id,
        from_status=WithdrawalStatus.PENDING,
    )
    answered = await prompts.take(
        ADMIN_CHAT, question, admin=as_admin(ADMIN_B), kinds=WITHDRAWAL_QUESTIONS
    )
    assert isinstance(answered, Taken)
    assert answered.what == WithdrawalPrompt(
        PromptAction.REJECT, withdrawal_id, WithdrawalStatus.PENDING
    )


async def test_unknown_and_expired_questions_are_refused(db: Db) -> None:
    clock = Clock()
    prompts = AdminPrompts(db.sessions, ttl=timedelta(minutes=10), now=clock)
    admin = as_admin(ADMIN_A)
    unknown = await prompts.take(ADMIN_CHAT, message_id(), admin=admin, kinds=CONFIRMATIONS)
    assert unknown is Refusal.UNKNOWN

    asked = message_id()
    await prompts.ask_adjustment(ADMIN_CHAT, asked, admin=admin, plan=plan(7, TxType.ADJUSTMENT))
    clock.now += timedelta(minutes=10)  # the moment it expires
    assert await prompts.take(ADMIN_CHAT, asked, admin=admin, kinds=CONFIRMATIONS) == (
        Refusal.EXPIRED
    )
    async with db.sessions() as session:
        used = await session.scalar(
            text("SELECT used_at FROM admin_prompts WHERE chat_id = :c AND message_id = :m"),
            {"c": ADMIN_CHAT, "m": asked},
        )
    assert used is None  # refused: nothing marked
    clock.now -= timedelta(seconds=1)
    assert isinstance(
        await prompts.take(ADMIN_CHAT, asked, admin=admin, kinds=CONFIRMATIONS), Taken
    )


async def test_two_answers_at_once_one_wins(db: Db) -> None:
    prompts = AdminPrompts(db.sessions)
    admin = as_admin(ADMIN_A)
    asked = message_id()
    await prompts.ask_adjustment(ADMIN_CHAT, asked, admin=admin, plan=plan(9))
    results = await asyncio.gather(
        *(prompts.take(ADMIN_CHAT, asked, admin=admin, kinds=CONFIRMATIONS) for _ in range(5))
    )
    assert len([r for r in results if isinstance(r, Taken)]) == 1
    assert [r for r in results if not isinstance(r, Taken)] == [Refusal.USED] * 4


async def test_the_database_refuses_a_question_without_its_terms(db: Db) -> None:
    prompts = AdminPrompts(db.sessions)
    with pytest.raises(ValueError, match="not a withdrawal question"):
        await prompts.ask_withdrawal(
            ADMIN_CHAT,
            message_id(),
            admin=as_admin(ADMIN_A),
            action=PromptAction.BONUS,
            withdrawal_id=1,
            from_status=None,
        )
    async with db.sessions() as session:
        with pytest.raises(IntegrityError, match="ck_admin_prompts_withdrawal_named"):
            await session.execute(
                text(
                    "INSERT INTO admin_prompts (chat_id, message_id, action, admin_telegram_id,"
                    " expires_at) VALUES (:c, :m, 'reject', 1, now() + interval '1 hour')"
                ),
                {"c": ADMIN_CHAT, "m": message_id()},
            )
