"""Withdrawals against real PostgreSQL: the happy path, refusals that change nothing, admin
authorisation, ownership. Races are in test_withdrawals_concurrency.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from core import ledger
from core.auth import Admin
from core.db.models import TxType, User, WithdrawalStatus
from core.errors import (
    CurrencyUnavailable,
    Forbidden,
    InsufficientFunds,
    InvalidAddress,
    InvalidAmount,
    InvalidTransition,
    NotFound,
    PaybotError,
)
from core.users import upsert_user
from core.withdrawals import CARD_KIND, STATUS_KIND, hold_key, refund_key
from tests.support.db import Db, ledger_balance
from tests.support.withdrawals import (
    ADMIN_A,
    ADMIN_B,
    ADMIN_CHAT,
    BTC,
    ETH,
    TRX,
    TX_HASH,
    XRP,
    as_admin,
    fund,
    funded_user,
    ledger_rows,
    service,
)

D = Decimal
S = WithdrawalStatus


async def outbox_rows(db: Db, withdrawal_id: int) -> dict[str, tuple[int, str, dict[str, Any]]]:
    async with db.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT dedup_key, chat_id, kind, payload FROM notifications"
                " WHERE dedup_key LIKE :prefix ORDER BY id"
            ),
            {"prefix": f"withdrawal:{withdrawal_id}:%"},
        )
        return {r.dedup_key: (r.chat_id, r.kind, r.payload) for r in rows.all()}


async def snapshot(db: Db, user: User) -> tuple[Any, ...]:
    """Everything a refused call must leave untouched for this user."""
    async with db.sessions() as session:
        withdrawals = (
            await session.execute(
                text("SELECT * FROM withdrawal_requests WHERE user_id = :u ORDER BY id"),
                {"u": user.id},
            )
        ).all()
        notes = (
            await session.execute(
                text(
                    "SELECT n.id FROM notifications n WHERE n.chat_id = :tid OR EXISTS"
                    " (SELECT 1 FROM withdrawal_requests w WHERE w.user_id = :u"
                    " AND n.dedup_key LIKE 'withdrawal:' || w.id || ':%') ORDER BY n.id"
                ),
                {"u": user.id, "tid": user.telegram_id},
            )
        ).all()
    return (
        await ledger_balance(db, user),
        await ledger_rows(db, user),
        [tuple(w) for w in withdrawals],
        [n.id for n in notes],
    )


async def test_happy_path_request_approve_process_complete(db: Db) -> None:
    wd = await service(db)
    user = await funded_user(db, "100.00", username="alice")

    q = await wd.quote("usdttrc20", "50")
    assert (q.amount, q.network_fee, q.service_fee, q.total_fee, q.final_amount) == (
        D("50.00"),
        D("1.00"),
        D("0.50"),
        D("1.50"),
        D("48.50"),
    )
    w = await wd.request(user_id=user.id, currency_code="USDTTRC20", amount="50", address=TRX)
    assert w.status is S.PENDING and w.final_amount == D("48.50") and w.wallet_address == TRX
    assert w.internal_id.startswith("WD_") and w.user.username == "alice"
    assert (await ledger_balance(db, user)).balance == D("50.00")
    hold = (TxType.WITHDRAWAL.value, D("-50.00"), hold_key(w.id), w.id)
    assert (await ledger_rows(db, user))[1:] == [hold]
    card = (await outbox_rows(db, w.id))[f"withdrawal:{w.id}:pending:admin"]
    assert card[:2] == (ADMIN_CHAT, CARD_KIND)
    assert card[2]["internal_id"] == w.internal_id and card[2]["amount_usd"] == "50.00"
    assert card[2]["user_telegram_id"] == user.telegram_id and card[2]["status"] == "pending"

    approved = await wd.approve(w.id, admin=as_admin(ADMIN_A), notes=" looks fine ")
    assert (approved.status, approved.approved_by, approved.admin_notes) == (
        S.APPROVED,
        ADMIN_A,
        "looks fine",
    )
    processing = await wd.start_processing(w.id, admin=as_admin(ADMIN_B))
    assert processing.processing_by == ADMIN_B and processing.admin_notes == "looks fine"

    before = await snapshot(db, user)
    for bad in ("0x123", "", TX_HASH + "0", "zz" * 32):
        with pytest.raises(InvalidAddress) as info:
            await wd.complete(w.id, admin=as_admin(ADMIN_A), tx_hash=bad)
        assert info.value.reason == "bad_tx_hash"
    assert await snapshot(db, user) == before

    done = await wd.complete(w.id, admin=as_admin(ADMIN_A), tx_hash=f" {TX_HASH} ")
    assert done.status is S.COMPLETED and done.transaction_hash == TX_HASH.lower()
    assert done.decided_by == ADMIN_A and done.decided_at == done.completed_at
    assert [(d.status, d.by) for d in done.decisions()] == [
        (S.APPROVED, ADMIN_A),
        (S.PROCESSING, ADMIN_B),
        (S.COMPLETED, ADMIN_A),
    ]
    bal = await ledger_balance(db, user)
    assert (bal.balance, bal.total_withdrawn) == (D("50.00"), D("50.00"))
    assert (await ledger_rows(db, user))[1:] == [hold]  # completion posts nothing

    rows = await outbox_rows(db, w.id)
    assert set(rows) == {
        f"withdrawal:{w.id}:{status}:{audience}"
        for status in ("approved", "processing", "completed")
        for audience in ("user", "admin")
    } | {f"withdrawal:{w.id}:pending:admin"}
    push = rows[f"withdrawal:{w.id}:completed:user"]
    assert push[:2] == (user.telegram_id, STATUS_KIND)
    assert push[2]["tx_hash"] == TX_HASH.lower() and push[2]["final_amount_usd"] == "48.50"
    assert push[2]["status"] == "completed" and push[2]["address"] == TRX
    assert "decided_by" not in push[2] and "notes" not in push[2]
    admin_card = rows[f"withdrawal:{w.id}:completed:admin"][2]
    assert admin_card["decided_by"] == ADMIN_A and admin_card["notes"] == "looks fine"

    with pytest.raises(InvalidTransition) as again:
        await wd.complete(w.id, admin=as_admin(ADMIN_B), tx_hash=TX_HASH)
    assert again.value.params["status"] == "completed"
    assert again.value.params["decided_by"] == ADMIN_A
    async with db.sessions() as session:
        assert [m for m in await ledger.reconcile(session) if m.user_id == user.id] == []


async def test_reads_card_and_lists(db: Db) -> None:
    wd = await service(db)
    user = await funded_user(db, "100.00", username="bob")
    first = await wd.request(user_id=user.id, currency_code="BTC", amount="20", address=BTC)
    second = await wd.request(
        user_id=user.id, currency_code="XRP", amount="30", address=XRP, memo="12345"
    )
    await wd.approve(second.id, admin=as_admin(ADMIN_A))
    await wd.set_admin_message(second.id, 4242)

    assert (await wd.get(first.id)).user.telegram_id == user.telegram_id
    assert (await wd.get_by_internal_id(second.internal_id)).memo == "12345"
    assert [w.id for w in await wd.list_for_user(user.id)] == [second.id, first.id]
    pending = [w.id for w in await wd.list_pending(limit=100)]
    assert first.id in pending and second.id in pending
    only_approved = await wd.list_pending(statuses=[S.APPROVED], limit=100)
    assert second.id in {w.id for w in only_approved}
    assert all(w.status is S.APPROVED for w in only_approved)

    card = await wd.card(second.id, recent=2)
    assert card.currency_name == "XRP" and card.network == "xrp"
    assert card.withdrawal.admin_chat_message_id == 4242
    assert card.withdrawal.approved_by == ADMIN_A and card.withdrawal.memo == "12345"
    assert card.balance.balance == D("50.00")
    assert [e.idempotency_key for e in card.recent] == [hold_key(second.id), hold_key(first.id)]
    assert (await wd.card(first.id)).currency_name == "BTC"

    with pytest.raises(NotFound):
        await wd.get(-1)
    with pytest.raises(NotFound):
        await wd.card(-1)


async def test_reject_needs_a_reason_and_refunds(db: Db) -> None:
    wd = await service(db)
    user = await funded_user(db, "40.00")
    w = await wd.request(user_id=user.id, currency_code="USDTERC20", amount="25", address=ETH)
    before = await snapshot(db, user)
    for empty in ("", "   ", None):
        with pytest.raises(InvalidTransition) as info:
            await wd.reject(w.id, admin=as_admin(ADMIN_A), reason=empty)  # type: ignore[arg-type]
        assert info.value.reason == "reason_required"
    with pytest.raises(InvalidTransition) as long:
        await wd.reject(w.id, admin=as_admin(ADMIN_A), reason="x" * 1001)
    assert long.value.reason == "text_too_long"
    assert await snapshot(db, user) == before

    await wd.approve(w.id, admin=as_admin(ADMIN_A))
    # The admin acted on a card that still showed "pending": refused, naming who approved.
    with pytest.raises(InvalidTransition) as stale:
        await wd.reject(w.id, admin=as_admin(ADMIN_B), reason="dup", from_status=S.PENDING)
    assert (stale.value.params["status"], stale.value.params["decided_by"]) == (
        "approved",
        ADMIN_A,
    )
    rejected = await wd.reject(w.id, admin=as_admin(ADMIN_B), reason=" wrong chain ")
    assert (rejected.status, rejected.reject_reason, rejected.rejected_by) == (
        S.REJECTED,
        "wrong chain",
        ADMIN_B,
    )
    bal = await ledger_balance(db, user)
    assert (bal.balance, bal.total_withdrawn) == (D("40.00"), D("0.00"))
    assert (await ledger_rows(db, user))[-1] == (
        TxType.REFUND.value,
        D("25.00"),
        refund_key(w.id),
        w.id,
    )
    push = (await outbox_rows(db, w.id))[f"withdrawal:{w.id}:rejected:user"]
    assert push[2]["reason"] == "wrong chain" and push[2]["status"] == "rejected"
    # processing can no longer be rejected: the coins may be on their way
    other = await wd.request(user_id=user.id, currency_code="BTC", amount="10", address=BTC)
    await wd.approve(other.id, admin=as_admin(ADMIN_A))
    await wd.start_processing(other.id, admin=as_admin(ADMIN_A))
    with pytest.raises(InvalidTransition) as late:
        await wd.reject(other.id, admin=as_admin(ADMIN_A), reason="late")
    assert late.value.params["status"] == "processing"


async def test_cancel_only_by_owner_only_while_pending(db: Db) -> None:
    wd = await service(db)
    owner = await funded_user(db, "60.00")
    stranger = await funded_user(db, "1.00")
    w = await wd.request(user_id=owner.id, currency_code="BTC", amount="30", address=BTC)

    before = await snapshot(db, owner)
    with pytest.raises(Forbidden) as info:
        await wd.cancel(w.id, user_id=stranger.id)
    assert info.value.reason == "not_owner"
    with pytest.raises(NotFound):
        await wd.cancel(-1, user_id=owner.id)
    assert await snapshot(db, owner) == before

    cancelled = await wd.cancel(w.id, user_id=owner.id)
    assert cancelled.status is S.CANCELLED and cancelled.decided_by == owner.telegram_id
    assert (await ledger_balance(db, owner)).balance == D("60.00")
    push = (await outbox_rows(db, w.id))[f"withdrawal:{w.id}:cancelled:user"][2]
    assert push["actor"] == "user"
    with pytest.raises(InvalidTransition) as again:
        await wd.cancel(w.id, user_id=owner.id)
    assert again.value.params["status"] == "cancelled"
    assert again.value.params["decided_by"] == owner.telegram_id

    approved = await wd.request(user_id=owner.id, currency_code="BTC", amount="30", address=BTC)
    await wd.approve(approved.id, admin=as_admin(ADMIN_B))
    before = await snapshot(db, owner)
    with pytest.raises(InvalidTransition) as late:
        await wd.cancel(approved.id, user_id=owner.id)
    assert (late.value.params["status"], late.value.params["decided_by"]) == ("approved", ADMIN_B)
    assert await snapshot(db, owner) == before


async def test_non_admin_changes_nothing(db: Db) -> None:
    """Every admin move takes the gate's proof: a non-admin gets none and none can be made, so
    whatever a caller checked (or skipped) before, nothing can be moved in their name."""
    wd = await service(db)
    user = await funded_user(db, "50.00")
    w = await wd.request(user_id=user.id, currency_code="BTC", amount="20", address=BTC)
    before = await snapshot(db, user)
    # the owner, a random id, an id that is only the admin *chat*: all refused
    for actor in (user.telegram_id, 123, ADMIN_CHAT, True):
        with pytest.raises(Forbidden) as info:
            as_admin(actor)
        assert info.value.reason == "not_admin"
        with pytest.raises(Forbidden):
            Admin(actor)
        with pytest.raises(Forbidden):
            Admin(actor, object())
    # An admin's own proof is not a key to anyone else's name.
    assert as_admin(ADMIN_A).telegram_id == ADMIN_A
    with pytest.raises(Forbidden):
        Admin(ADMIN_A)
    assert (await wd.get(w.id)).status is S.PENDING
    assert await snapshot(db, user) == before


async def admin_user(db: Db, telegram_id: int) -> User:
    """The user row of an admin who also uses the bot, with money to withdraw."""
    async with db.sessions.begin() as session:
        user = await upsert_user(session, telegram_id, first_name="Admin")
    await fund(db, user, "100.00")
    return user


async def test_an_admin_cannot_pay_out_their_own_withdrawal(db: Db) -> None:
    wd = await service(db)
    me = await admin_user(db, ADMIN_A)
    own = await wd.request(user_id=me.id, currency_code="BTC", amount="20", address=BTC)
    before = await snapshot(db, me)
    for call in (
        wd.approve(own.id, admin=as_admin(ADMIN_A)),
        wd.start_processing(own.id, admin=as_admin(ADMIN_A)),
        wd.complete(own.id, admin=as_admin(ADMIN_A), tx_hash=TX_HASH),
    ):
        with pytest.raises(Forbidden) as info:
            await call
        assert info.value.reason == "own_withdrawal"
    assert await snapshot(db, me) == before
    assert (await wd.get(own.id)).status is S.PENDING

    # Another admin decides it; the owner still may not send it on.
    approved = await wd.approve(own.id, admin=as_admin(ADMIN_B))
    assert approved.approved_by == ADMIN_B
    with pytest.raises(Forbidden) as sending:
        await wd.start_processing(own.id, admin=as_admin(ADMIN_A))
    assert sending.value.reason == "own_withdrawal"
    processing = await wd.start_processing(own.id, admin=as_admin(ADMIN_B))
    with pytest.raises(Forbidden):
        await wd.complete(own.id, admin=as_admin(ADMIN_A), tx_hash=TX_HASH)
    assert (await wd.get(own.id)).status is processing.status is S.PROCESSING
    done = await wd.complete(own.id, admin=as_admin(ADMIN_B), tx_hash=TX_HASH)
    assert done.status is S.COMPLETED


async def test_an_admin_may_reject_their_own_and_decide_others(db: Db) -> None:
    wd = await service(db)
    me = await admin_user(db, ADMIN_B)
    own = await wd.request(user_id=me.id, currency_code="BTC", amount="20", address=BTC)
    rejected = await wd.reject(own.id, admin=as_admin(ADMIN_B), reason="changed my mind")
    assert rejected.status is S.REJECTED  # refunding oneself moves no money out
    customer = await funded_user(db, "50.00")
    theirs = await wd.request(user_id=customer.id, currency_code="BTC", amount="20", address=BTC)
    assert (await wd.approve(theirs.id, admin=as_admin(ADMIN_B))).status is S.APPROVED


async def test_self_approval_when_the_operator_allows_it(db: Db) -> None:
    wd = await service(db, allow_self_approval=True)
    me = await admin_user(db, ADMIN_A)
    own = await wd.request(user_id=me.id, currency_code="BTC", amount="20", address=BTC)
    await wd.approve(own.id, admin=as_admin(ADMIN_A))
    await wd.start_processing(own.id, admin=as_admin(ADMIN_A))
    done = await wd.complete(own.id, admin=as_admin(ADMIN_A), tx_hash=TX_HASH)
    assert done.status is S.COMPLETED and done.completed_by == ADMIN_A


async def test_banned_and_unknown_users_are_refused(db: Db) -> None:
    wd = await service(db)
    banned = await funded_user(db, "50.00", is_banned=True)
    before = await snapshot(db, banned)
    with pytest.raises(Forbidden) as info:
        await wd.request(user_id=banned.id, currency_code="BTC", amount="20", address=BTC)
    assert info.value.reason == "banned"
    assert await snapshot(db, banned) == before
    with pytest.raises(NotFound):
        await wd.request(user_id=-5, currency_code="BTC", amount="20", address=BTC)


def flip(address: str, index: int) -> str:
    """One character changed to another of the same alphabet."""
    char = address[index]
    replacement = "2" if char != "2" else "3"
    return address[:index] + replacement + address[index + 1 :]


REQUEST = {"currency_code": "BTC", "amount": "20", "address": BTC, "memo": None}

NASTY: list[tuple[str, dict[str, Any], type[PaybotError], str, dict[str, Any]]] = [
    ("nan", {"amount": "NaN"}, InvalidAmount, "not_a_number", {}),
    ("exponent", {"amount": "1e3"}, InvalidAmount, "not_a_number", {}),
    ("infinity", {"amount": "Infinity"}, InvalidAmount, "not_a_number", {}),
    ("negative", {"amount": "-5"}, InvalidAmount, "negative", {}),
    ("zero", {"amount": "0"}, InvalidAmount, "zero", {}),
    ("sub-cent", {"amount": "0.001"}, InvalidAmount, "too_many_decimals", {}),
    ("half-cent", {"amount": "10.005"}, InvalidAmount, "too_many_decimals", {}),
    ("empty amount", {"amount": ""}, InvalidAmount, "empty", {}),
    ("arabic digits", {"amount": "٢٠"}, InvalidAmount, "not_a_number", {}),
    ("decimal nan", {"amount": D("NaN")}, InvalidAmount, "not_a_number", {}),
    ("below min", {"amount": "9.99"}, InvalidAmount, "below_minimum", {"minimum": D("10.00")}),
    (
        "below currency min",
        {"currency_code": "WDTESTFEE", "amount": "19.99", "address": ETH},
        InvalidAmount,
        "below_minimum",
        {"minimum": D("20.00")},
    ),
    (
        "above max",
        {"amount": "10000.01"},
        InvalidAmount,
        "above_maximum",
        {"maximum": D("10000.00")},
    ),
    ("more than balance", {"amount": "100.01"}, InsufficientFunds, "insufficient_funds", {}),
    ("unknown coin", {"currency_code": "NOPE"}, CurrencyUnavailable, "unknown", {}),
    ("inactive coin", {"currency_code": "WDTESTOFF"}, CurrencyUnavailable, "inactive", {}),
    ("flipped btc", {"address": flip(BTC, 10)}, InvalidAddress, "bad_checksum", {}),
    (
        "flipped trx",
        {"currency_code": "USDTTRC20", "address": flip(TRX, 10)},
        InvalidAddress,
        "bad_checksum",
        {},
    ),
    (
        "flipped eth case",
        {"currency_code": "USDTERC20", "address": ETH[:3] + ETH[3].swapcase() + ETH[4:]},
        InvalidAddress,
        "bad_checksum",
        {},
    ),
    (
        "tron for erc20",
        {"currency_code": "USDTERC20", "address": TRX},
        InvalidAddress,
        "wrong_network",
        {"looks_like": "trx"},
    ),
    (
        "eth for btc",
        {"address": ETH},
        InvalidAddress,
        "wrong_network",
        {"looks_like": "eth"},
    ),
    (
        "btc for trc20",
        {"currency_code": "USDTTRC20", "address": BTC},
        InvalidAddress,
        "wrong_network",
        {"looks_like": "btc"},
    ),
    ("empty address", {"address": "  "}, InvalidAddress, "empty", {}),
    ("zero-width", {"address": BTC + "\u200b"}, InvalidAddress, "bad_format", {}),
    (
        "no memo",
        {"currency_code": "XRP", "address": XRP},
        InvalidAddress,
        "memo_required",
        {},
    ),
    (
        "empty memo",
        {"currency_code": "XRP", "address": XRP, "memo": " "},
        InvalidAddress,
        "memo_required",
        {},
    ),
    (
        "long memo",
        {"currency_code": "XRP", "address": XRP, "memo": "1" * 65},
        InvalidAddress,
        "memo_invalid",
        {"detail": "too_long"},
    ),
    (
        "memo not a tag",
        {"currency_code": "XRP", "address": XRP, "memo": "abc"},
        InvalidAddress,
        "memo_invalid",
        {"detail": "xrp_tag"},
    ),
]


@pytest.mark.parametrize(
    ("changes", "error", "reason", "params"),
    [case[1:] for case in NASTY],
    ids=[case[0] for case in NASTY],
)
async def test_nasty_request_changes_nothing(
    db: Db,
    changes: dict[str, Any],
    error: type[PaybotError],
    reason: str,
    params: dict[str, Any],
) -> None:
    wd = await service(db)
    user = await funded_user(db, "100.00")
    before = await snapshot(db, user)
    with pytest.raises(error) as info:
        await wd.request(user_id=user.id, **{**REQUEST, **changes})
    assert type(info.value) is error and info.value.reason == reason
    assert params.items() <= info.value.params.items()
    assert await snapshot(db, user) == before


async def test_fees_beyond_the_amount_are_refused(db: Db) -> None:
    wd = await service(db, default_network_fee_usd=D("15.00"))
    user = await funded_user(db, "100.00")
    before = await snapshot(db, user)
    with pytest.raises(InvalidAmount) as info:
        await wd.request(user_id=user.id, currency_code="BTC", amount="15", address=BTC)
    assert info.value.reason == "fees_exceed_amount"
    assert info.value.params["total_fee"] == D("15.15")
    assert await snapshot(db, user) == before
    # the currency's own network fee (2.50) wins over the default
    q = await wd.quote("WDTESTFEE", "20")
    assert (q.network_fee, q.total_fee, q.final_amount) == (D("2.50"), D("2.70"), D("17.30"))


@pytest.mark.parametrize(
    ("currency", "address", "bad_hash"),
    [
        ("USDTERC20", ETH, "0x" + "a" * 63),
        ("USDTERC20", ETH, "0x" + "g" * 64),
        ("USDTERC20", ETH, "0x" + "a" * 65),
        ("BTC", BTC, "0x" + "a" * 64),
        ("BTC", BTC, "a" * 64 + "\u200b"),
        ("USDTTRC20", TRX, " "),
        ("XRP", XRP, "short"),
    ],
)
async def test_bad_tx_hash_changes_nothing(
    db: Db, currency: str, address: str, bad_hash: str
) -> None:
    wd = await service(db)
    user = await funded_user(db, "100.00")
    w = await wd.request(
        user_id=user.id, currency_code=currency, amount="20", address=address, memo="7"
    )
    await wd.approve(w.id, admin=as_admin(ADMIN_A))
    await wd.start_processing(w.id, admin=as_admin(ADMIN_A))
    before = await snapshot(db, user)
    with pytest.raises(InvalidAddress) as info:
        await wd.complete(w.id, admin=as_admin(ADMIN_A), tx_hash=bad_hash)
    assert info.value.reason == "bad_tx_hash"
    assert await snapshot(db, user) == before
    assert (await wd.get(w.id)).status is S.PROCESSING


async def test_completion_of_an_unprocessed_withdrawal_is_refused(db: Db) -> None:
    wd = await service(db)
    user = await funded_user(db, "100.00")
    w = await wd.request(user_id=user.id, currency_code="BTC", amount="20", address=BTC)
    before = await snapshot(db, user)
    for call in (
        wd.complete(w.id, admin=as_admin(ADMIN_A), tx_hash=TX_HASH),
        wd.start_processing(w.id, admin=as_admin(ADMIN_A)),
    ):
        with pytest.raises(InvalidTransition) as info:
            await call
        assert info.value.reason == "not_allowed"
        assert info.value.params["status"] == "pending"
        assert info.value.params["decided_by"] is None
    with pytest.raises(NotFound):
        await wd.complete(-1, admin=as_admin(ADMIN_A), tx_hash=TX_HASH)
    with pytest.raises(NotFound):
        await wd.approve(-1, admin=as_admin(ADMIN_A))
    assert await snapshot(db, user) == before
