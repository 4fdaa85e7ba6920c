"""The admin chat's questions and confirmations read as sentences in every locale: the
withdrawal by its internal id, its state in words, and no machine line (a ref line, a database
id) for a handler to read back."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bot import texts
from bot.i18n import LOCALES, use_locale
from core.admin import AdjustmentPlan, Person
from core.db.models import TxType, WithdrawalStatus
from core.withdrawals import UserRef, WithdrawalView

ROW_ID = 987_654  # a database id no human-facing number here contains
MACHINE = re.compile(r"\bref:|#[0-9]|987654")
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def withdrawal(status: WithdrawalStatus) -> WithdrawalView:
    fields: dict[str, Any] = dict.fromkeys(WithdrawalView.__dataclass_fields__)
    fields.update(
        id=ROW_ID,
        internal_id="WD_20261203120000_0a1b2c3d",
        user=UserRef(1, 2, "u", "U"),
        status=status,
        currency_code="USDTTRC20",
        amount=Decimal("100.00"),
        network_fee=Decimal("1.00"),
        service_fee=Decimal("1.00"),
        total_fee=Decimal("2.00"),
        final_amount=Decimal("98.00"),
        wallet_address="T" + "x" * 33,
        created_at=NOW,
        updated_at=NOW,
    )
    return WithdrawalView(**fields)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("status", [WithdrawalStatus.PENDING, WithdrawalStatus.APPROVED])
def test_the_reject_question_names_the_withdrawal_as_the_card_does(
    locale: str, status: WithdrawalStatus
) -> None:
    view = withdrawal(status)
    with use_locale(locale):
        text = texts.admin_reject_prompt(view, 42, "Boss <b>")
        state = texts.ADMIN_WD_STATUS[status.value]
    assert not MACHINE.search(text), text
    assert view.internal_id in text and "@u" in text and "Boss &lt;b&gt;" in text
    assert "?" in text and "state-unknown" not in text
    assert state.split()[-1].lower() in text.lower()  # "pending", "ожидает"… in words


@pytest.mark.parametrize("locale", LOCALES)
def test_the_hash_question_and_the_confirmation_carry_no_machine_line(locale: str) -> None:
    view = withdrawal(WithdrawalStatus.PROCESSING)
    plan = AdjustmentPlan(
        Person(780001, "alice"), TxType.ADJUSTMENT, Decimal("5.00"), "fee", Decimal("10.00")
    )
    with use_locale(locale):
        asked = texts.admin_complete_prompt(view, 42, "Boss")
        confirm = texts.admin_adjust_confirm(plan)
    for text in (asked, confirm):
        assert not MACHINE.search(text), text
    assert view.internal_id in asked and view.wallet_address in asked and "?" in asked
    assert "adjustment 780001" not in confirm and confirm.rstrip().endswith("fee")
