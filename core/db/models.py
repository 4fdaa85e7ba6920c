"""The schema. Invariants that protect money are CHECK constraints and triggers in the database
(see the migrations), not only code: a bug or a hand-written UPDATE cannot break them."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, Crypto, Usd


class TxType(enum.StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    PAYMENT = "payment"
    REFUND = "refund"
    FEE = "fee"
    BONUS = "bonus"
    ADJUSTMENT = "adjustment"


# The sign each type fixes; adjustment may go either way (never zero).
CREDIT_TYPES = frozenset({TxType.DEPOSIT, TxType.REFUND, TxType.BONUS})
DEBIT_TYPES = frozenset({TxType.WITHDRAWAL, TxType.PAYMENT, TxType.FEE})


class PaymentStatus(enum.StrEnum):
    CREATING = "creating"  # our row exists, the provider has not answered yet
    WAITING = "waiting"
    CONFIRMING = "confirming"
    CONFIRMED = "confirmed"
    SENDING = "sending"
    PARTIALLY_PAID = "partially_paid"
    FINISHED = "finished"
    FAILED = "failed"
    REFUNDED = "refunded"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    CREATE_FAILED = "create_failed"  # the provider refused; nothing to poll


FINAL_PAYMENT_STATUSES = frozenset(
    {
        PaymentStatus.PARTIALLY_PAID,
        PaymentStatus.FINISHED,
        PaymentStatus.FAILED,
        PaymentStatus.REFUNDED,
        PaymentStatus.EXPIRED,
        PaymentStatus.CANCELLED,
        PaymentStatus.CREATE_FAILED,
    }
)


class WithdrawalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    PROCESSING = "processing"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class NotificationState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # e.g. the user blocked the bot


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


def _not_nan(*columns: str) -> str:
    # NUMERIC accepts 'NaN', and NaN compares greater than every number in PostgreSQL.
    return " AND ".join(f"{c} <> 'NaN'::numeric" for c in columns)


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    username: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str | None] = mapped_column(String(128))
    language: Mapped[str | None] = mapped_column(String(16))
    # Chosen with /language; NULL follows Telegram's language_code (``language``).
    locale: Mapped[str | None] = mapped_column(String(8))
    blocked_bot: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    is_banned: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = _now()

    __table_args__ = (Index("ix_users_username_lower", func.lower(text("username"))),)


class Currency(Base):
    __tablename__ = "currencies"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)  # NOWPayments ticker, upper
    name: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(32))
    network: Mapped[str] = mapped_column(String(32))
    decimal_places: Mapped[int] = mapped_column(Integer, server_default=text("8"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    provider: Mapped[str] = mapped_column(String(32), server_default=text("'nowpayments'"))
    min_amount_usd: Mapped[Decimal | None] = mapped_column(Usd)
    sort_order: Mapped[int] = mapped_column(Integer, server_default=text("100"))
    needs_memo: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    wallet_regex: Mapped[str | None] = mapped_column(Text)
    # Overrides of the configured withdrawal rules for this coin.
    network_fee_usd: Mapped[Decimal | None] = mapped_column(Usd)
    min_withdrawal_usd: Mapped[Decimal | None] = mapped_column(Usd)
    # An admin switched it off: a provider sync must not switch it back on.
    disabled_by_admin: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint("decimal_places BETWEEN 0 AND 18", name="decimal_places"),
        CheckConstraint(
            "min_amount_usd IS NULL OR (min_amount_usd >= 0 AND "
            + _not_nan("min_amount_usd")
            + ")",
            name="min_amount_usd",
        ),
        CheckConstraint(
            "network_fee_usd IS NULL OR (network_fee_usd >= 0 AND "
            + _not_nan("network_fee_usd")
            + ")",
            name="network_fee_usd",
        ),
        CheckConstraint(
            "min_withdrawal_usd IS NULL OR (min_withdrawal_usd >= 0 AND "
            + _not_nan("min_withdrawal_usd")
            + ")",
            name="min_withdrawal_usd",
        ),
        CheckConstraint("code = upper(code)", name="code_upper"),
    )

    @property
    def display_name(self) -> str:
        """'USDT (TRC20)' for a token on a network, 'BTC' for a native coin."""
        suffix = self.code[len(self.token) :] if self.code.startswith(self.token) else ""
        return f"{self.token} ({suffix})" if suffix else self.token


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    internal_payment_id: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    amount_usd: Mapped[Decimal] = mapped_column(Usd)
    currency_code: Mapped[str] = mapped_column(ForeignKey("currencies.code"))
    pay_amount: Mapped[Decimal | None] = mapped_column(Crypto)
    actually_paid: Mapped[Decimal | None] = mapped_column(Crypto)
    credited_usd: Mapped[Decimal | None] = mapped_column(Usd)
    provider: Mapped[str] = mapped_column(String(32), server_default=text("'nowpayments'"))
    provider_payment_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(32), server_default=text("'creating'"))
    provider_status: Mapped[str | None] = mapped_column(String(64))
    needs_review: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    pay_address: Mapped[str | None] = mapped_column(String(256))
    payin_extra_id: Mapped[str | None] = mapped_column(String(128))
    transaction_hash: Mapped[str | None] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    check_attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    # The provider's updated_at of the newest reply applied: an older reply (fetched before a
    # newer one was settled) is stale and changes nothing.
    provider_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint(_in("status", PaymentStatus), name="status"),
        CheckConstraint("amount_usd > 0 AND " + _not_nan("amount_usd"), name="amount_usd"),
        CheckConstraint(
            "pay_amount IS NULL OR (pay_amount > 0 AND " + _not_nan("pay_amount") + ")",
            name="pay_amount",
        ),
        CheckConstraint(
            "actually_paid IS NULL OR (actually_paid >= 0 AND " + _not_nan("actually_paid") + ")",
            name="actually_paid",
        ),
        CheckConstraint(
            "credited_usd IS NULL OR (credited_usd >= 0 AND " + _not_nan("credited_usd") + ")",
            name="credited_usd",
        ),
        CheckConstraint(
            "internal_payment_id ~ '^PAY_[0-9]{14}_[0-9a-f]{8}$'", name="internal_payment_id"
        ),
        # The poller's queue: non-final payments by due time.
        Index(
            "ix_payments_due",
            "next_check_at",
            postgresql_where=text(
                "status IN ('waiting', 'confirming', 'confirmed', 'sending', 'creating')"
            ),
        ),
        # Its late branch: deposits that ended without money, polled again (core.deposits.poller).
        Index(
            "ix_payments_late_due",
            "next_check_at",
            postgresql_where=text("status IN ('expired', 'failed') AND credited_usd IS NULL"),
        ),
        Index("ix_payments_status_created", "status", "created_at"),
    )


class PaymentEvent(Base):
    """Every observed provider status, with the raw fields, for audit and disputes."""

    __tablename__ = "payment_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    status: Mapped[str] = mapped_column(String(64))
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class StatusCheckLimit(Base):
    """A user's "Check status" presses that asked the provider in the current one-minute window
    (core.deposits.flows.check_status); one row per user, counted with one atomic upsert."""

    __tablename__ = "status_check_limits"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("used >= 0", name="used_non_negative"),)


class UserBalance(Base):
    __tablename__ = "user_balances"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    balance_usd: Mapped[Decimal] = mapped_column(Usd, server_default=text("0"))
    total_deposited: Mapped[Decimal] = mapped_column(Usd, server_default=text("0"))
    total_withdrawn: Mapped[Decimal] = mapped_column(Usd, server_default=text("0"))
    last_transaction_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("balance_usd >= 0", name="balance_non_negative"),
        CheckConstraint(
            _not_nan("balance_usd", "total_deposited", "total_withdrawn"), name="not_nan"
        ),
        CheckConstraint("total_deposited >= 0 AND total_withdrawn >= 0", name="totals"),
    )


class Transaction(Base):
    """The ledger. Rows are immutable (trigger); the balance chain is checked on insert."""

    __tablename__ = "transactions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    type: Mapped[str] = mapped_column(String(16))
    amount_usd: Mapped[Decimal] = mapped_column(Usd)
    balance_after: Mapped[Decimal] = mapped_column(Usd)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    withdrawal_id: Mapped[int | None] = mapped_column(
        ForeignKey("withdrawal_requests.id"), index=True
    )
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint(_in("type", TxType), name="type"),
        CheckConstraint(_not_nan("amount_usd", "balance_after"), name="not_nan"),
        CheckConstraint("amount_usd <> 0", name="amount_nonzero"),
        CheckConstraint("balance_after >= 0", name="balance_after_non_negative"),
        CheckConstraint(
            "(type NOT IN ('deposit', 'refund', 'bonus') OR amount_usd > 0) AND "
            "(type NOT IN ('withdrawal', 'payment', 'fee') OR amount_usd < 0)",
            name="sign_by_type",
        ),
        CheckConstraint("length(idempotency_key) > 0", name="idempotency_key"),
        # Every deposit, hold and refund names its cause, once (a trigger also checks that the
        # cause is the same user's; migration 0004).
        CheckConstraint("type <> 'deposit' OR payment_id IS NOT NULL", name="deposit_has_payment"),
        CheckConstraint(
            "type NOT IN ('withdrawal', 'refund') OR withdrawal_id IS NOT NULL",
            name="hold_refund_has_withdrawal",
        ),
        Index(
            "uq_transactions_deposit_payment",
            "payment_id",
            unique=True,
            postgresql_where=text("type = 'deposit'"),
        ),
        Index(
            "uq_transactions_withdrawal_hold",
            "withdrawal_id",
            unique=True,
            postgresql_where=text("type = 'withdrawal'"),
        ),
        Index(
            "uq_transactions_withdrawal_refund",
            "withdrawal_id",
            unique=True,
            postgresql_where=text("type = 'refund'"),
        ),
        Index("ix_transactions_user_id_id", "user_id", "id"),
    )


class WithdrawalRequest(Base):
    __tablename__ = "withdrawal_requests"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    internal_withdrawal_id: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    amount_usd: Mapped[Decimal] = mapped_column(Usd)
    currency_code: Mapped[str] = mapped_column(ForeignKey("currencies.code"))
    wallet_address: Mapped[str] = mapped_column(String(256))
    memo: Mapped[str | None] = mapped_column(String(128))
    network_fee_usd: Mapped[Decimal] = mapped_column(Usd)
    service_fee_usd: Mapped[Decimal] = mapped_column(Usd)
    total_fee_usd: Mapped[Decimal] = mapped_column(Usd)
    final_amount_usd: Mapped[Decimal] = mapped_column(Usd)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    transaction_hash: Mapped[str | None] = mapped_column(String(256))
    admin_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    admin_notes: Mapped[str | None] = mapped_column(Text)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[int | None] = mapped_column(BigInteger)
    processing_by: Mapped[int | None] = mapped_column(BigInteger)
    completed_by: Mapped[int | None] = mapped_column(BigInteger)
    rejected_by: Mapped[int | None] = mapped_column(BigInteger)
    admin_chat_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # The client's key for one confirmation (e.g. the confirm button's message): a double tap
    # finds the first request instead of holding the money twice.
    request_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    processing_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(_in("status", WithdrawalStatus), name="status"),
        CheckConstraint(
            _not_nan(
                "amount_usd",
                "network_fee_usd",
                "service_fee_usd",
                "total_fee_usd",
                "final_amount_usd",
            ),
            name="not_nan",
        ),
        CheckConstraint("amount_usd > 0", name="amount_positive"),
        CheckConstraint("network_fee_usd >= 0 AND service_fee_usd >= 0", name="fees_non_negative"),
        CheckConstraint("total_fee_usd = network_fee_usd + service_fee_usd", name="total_fee"),
        CheckConstraint(
            "final_amount_usd > 0 AND final_amount_usd = amount_usd - total_fee_usd",
            name="final_amount",
        ),
        CheckConstraint(
            "status <> 'completed' OR transaction_hash IS NOT NULL", name="completed_has_hash"
        ),
        CheckConstraint(
            "status <> 'rejected' OR length(coalesce(reject_reason, '')) > 0",
            name="rejected_has_reason",
        ),
        CheckConstraint(
            "internal_withdrawal_id ~ '^WD_[0-9]{14}_[0-9a-f]{8}$'", name="internal_withdrawal_id"
        ),
        Index("ix_withdrawal_requests_status_created", "status", "created_at"),
        UniqueConstraint("user_id", "request_key", name="uq_withdrawal_requests_request_key"),
    )


class Notification(Base):
    """The transactional outbox: written with the state change, sent after commit."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = _now()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    # Set while a notifier holds the row (claimed, not settled); NULL otherwise.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(_in("state", NotificationState), name="state"),
        # The notifier's queue.
        Index(
            "ix_notifications_due",
            "next_attempt_at",
            "id",
            postgresql_where=text("state = 'pending'"),
        ),
    )


class AdminPrompt(Base):
    """A question the bot asked in the admin chat (a reject reason, a transaction hash, an
    adjustment's confirmation), keyed by the message that asks it: what an answer to that
    message does lives here, never in the message's text (core.admin.prompts)."""

    __tablename__ = "admin_prompts"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    admin_telegram_id: Mapped[int] = mapped_column(BigInteger)
    withdrawal_id: Mapped[int | None] = mapped_column(ForeignKey("withdrawal_requests.id"))
    # The status the admin was shown (a reject is refused if it moved meanwhile).
    from_status: Mapped[str | None] = mapped_column(String(16))
    user_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    amount_usd: Mapped[Decimal | None] = mapped_column(Usd)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("action IN ('reject', 'complete', 'adjustment', 'bonus')", name="action"),
        CheckConstraint(
            "action NOT IN ('reject', 'complete') OR withdrawal_id IS NOT NULL",
            name="withdrawal_named",
        ),
        CheckConstraint(
            "action NOT IN ('adjustment', 'bonus') OR (user_telegram_id IS NOT NULL"
            " AND amount_usd IS NOT NULL AND amount_usd <> 'NaN'::numeric"
            " AND length(coalesce(reason, '')) > 0)",
            name="adjustment_terms",
        ),
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
    )
