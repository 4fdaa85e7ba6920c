"""Questions the bot asks in the admin chat, and what an answer to each does.

When an admin presses Reject or Complete on a withdrawal card, the bot asks for a reason or a
transaction hash; /adjust and /bonus ask for a confirmation. What the answer is for is stored
here, keyed by the chat and the question's message id, never written into the question's text
(which the admin reads, and which anyone could imitate). A row names the admin who asked and
expires; ``take`` hands it out once:

- only the admin who asked may answer (the question is addressed to them by name, the
  own-withdrawal rule was checked for them, and the card says who decided);
- an answer to an unknown, expired or used question, or from another admin, gets a ``Refusal``
  and nothing changes;
- two answers at once: the guarded UPDATE lets one through.

A row in the database (not the dispatcher's FSM memory) keeps a question answerable across a
restart and across instances. The action itself still goes through WithdrawalActions or
Adjustments, whose guarded transitions and ledger keys refuse a stale or repeated move.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.admin.adjustments import AdjustmentPlan
from core.auth import Admin
from core.db.models import AdminPrompt, TxType, WithdrawalStatus

log = logging.getLogger(__name__)

# Long enough for an admin to look the payout up; short enough that a forgotten question
# does not act on a withdrawal days later.
PROMPT_TTL = timedelta(hours=12)


class PromptAction(StrEnum):
    REJECT = "reject"
    COMPLETE = "complete"
    ADJUSTMENT = "adjustment"
    BONUS = "bonus"


WITHDRAWAL_QUESTIONS = frozenset({PromptAction.REJECT, PromptAction.COMPLETE})
CONFIRMATIONS = frozenset({PromptAction.ADJUSTMENT, PromptAction.BONUS})


class Refusal(StrEnum):
    UNKNOWN = "unknown"  # not a question of ours (or from before this table)
    EXPIRED = "expired"
    USED = "used"  # answered already
    NOT_YOURS = "not_yours"  # asked of another admin


@dataclass(frozen=True, slots=True)
class WithdrawalPrompt:
    action: PromptAction  # REJECT or COMPLETE
    withdrawal_id: int
    from_status: WithdrawalStatus | None


@dataclass(frozen=True, slots=True)
class AdjustmentTerms:
    kind: TxType
    user_telegram_id: int
    amount: Decimal
    reason: str


@dataclass(frozen=True, slots=True)
class Taken:
    """A question handed to the admin who asked it; ``key`` names it for good (the ledger key
    of a confirmation, so pressing Confirm twice posts once)."""

    key: str
    what: WithdrawalPrompt | AdjustmentTerms


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AdminPrompts:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl: timedelta = PROMPT_TTL,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._now = now

    async def _ask(self, chat_id: int, message_id: int, admin: Admin, **what: object) -> None:
        at = self._now()
        row: dict[str, object] = {
            "admin_telegram_id": admin.telegram_id,
            "withdrawal_id": None,
            "from_status": None,
            "user_telegram_id": None,
            "amount_usd": None,
            "reason": None,
            **what,
            "created_at": at,
            "expires_at": at + self._ttl,
            "used_at": None,
        }
        # The bot has just sent this message: a row left under the same id (a chat whose ids
        # started again, e.g. a test server) describes some older message and is replaced.
        statement = pg_insert(AdminPrompt).values(chat_id=chat_id, message_id=message_id, **row)
        statement = statement.on_conflict_do_update(
            index_elements=[AdminPrompt.chat_id, AdminPrompt.message_id], set_=row
        )
        async with self._sessions.begin() as session:
            await session.execute(statement)

    async def ask_withdrawal(
        self,
        chat_id: int,
        message_id: int,
        *,
        admin: Admin,
        action: PromptAction,
        withdrawal_id: int,
        from_status: WithdrawalStatus | None,
    ) -> None:
        """Record the reason or hash question the bot just sent as ``message_id``."""
        if action not in WITHDRAWAL_QUESTIONS:
            raise ValueError(f"not a withdrawal question: {action!r}")
        await self._ask(
            chat_id,
            message_id,
            admin,
            action=action.value,
            withdrawal_id=withdrawal_id,
            from_status=from_status.value if from_status else None,
        )

    async def ask_adjustment(
        self, chat_id: int, message_id: int, *, admin: Admin, plan: AdjustmentPlan
    ) -> None:
        """Record the confirmation the bot just sent as ``message_id`` for ``plan``."""
        await self._ask(
            chat_id,
            message_id,
            admin,
            action=PromptAction(plan.kind.value).value,
            user_telegram_id=plan.user.telegram_id,
            amount_usd=plan.amount,
            reason=plan.reason,
        )

    async def take(
        self, chat_id: int, message_id: int, *, admin: Admin, kinds: Collection[PromptAction]
    ) -> Taken | Refusal:
        """The question, marked answered, if it is one of ``kinds`` (a reply answers a reason
        or hash question, a button a confirmation), ``admin`` asked it and it is open; else why
        not. Nothing is marked when it is refused."""
        at = self._now()
        key = (
            AdminPrompt.chat_id == chat_id,
            AdminPrompt.message_id == message_id,
            AdminPrompt.action.in_([k.value for k in kinds]),
        )
        async with self._sessions.begin() as session:
            taken = await session.scalar(
                update(AdminPrompt)
                .where(
                    *key,
                    AdminPrompt.admin_telegram_id == admin.telegram_id,
                    AdminPrompt.used_at.is_(None),
                    AdminPrompt.expires_at > at,
                )
                .values(used_at=at)
                .returning(AdminPrompt)
            )
            if taken is None:
                found = await session.scalar(select(AdminPrompt).where(*key))
                return _refusal(found, admin)
        log.info(
            "admin %s answers the %s question %s:%s", admin.telegram_id, taken.action, *_key(taken)
        )
        # The time it was asked too: a message id used again (see _ask) is another question.
        asked = taken.created_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%f")
        return Taken(f"{chat_id}:{message_id}:{asked}", _what(taken))

    async def give_back(self, chat_id: int, message_id: int, *, admin: Admin) -> None:
        """Reopen a question whose answer was refused by core (a mistyped hash, a balance
        that moved), so the admin can answer it again."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(AdminPrompt)
                .where(
                    AdminPrompt.chat_id == chat_id,
                    AdminPrompt.message_id == message_id,
                    AdminPrompt.admin_telegram_id == admin.telegram_id,
                )
                .values(used_at=None)
            )


def _key(prompt: AdminPrompt) -> tuple[int, int]:
    return prompt.chat_id, prompt.message_id


def _refusal(found: AdminPrompt | None, admin: Admin) -> Refusal:
    if found is None:
        return Refusal.UNKNOWN
    if found.admin_telegram_id != admin.telegram_id:
        return Refusal.NOT_YOURS
    if found.used_at is not None:
        return Refusal.USED
    return Refusal.EXPIRED


def _what(prompt: AdminPrompt) -> WithdrawalPrompt | AdjustmentTerms:
    action = PromptAction(prompt.action)
    if action in WITHDRAWAL_QUESTIONS:
        assert prompt.withdrawal_id is not None  # ck_admin_prompts_withdrawal_named
        status = prompt.from_status
        return WithdrawalPrompt(
            action, prompt.withdrawal_id, WithdrawalStatus(status) if status else None
        )
    assert prompt.user_telegram_id is not None and prompt.amount_usd is not None  # the CHECK
    return AdjustmentTerms(
        TxType(action.value), prompt.user_telegram_id, prompt.amount_usd, prompt.reason or ""
    )
