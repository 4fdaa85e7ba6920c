"""The explicit table from a withdrawal card's button to core's action
(bot.callbacks.CORE_ACTION): every button names one core action, every action a card may offer
has its button, and the two directions agree."""

from __future__ import annotations

from bot.callbacks import BUTTON_ACTION, CORE_ACTION, AdminWithdrawalAction
from core.db.models import WithdrawalStatus
from core.withdrawals import WithdrawalAction, offered_actions


def test_every_button_maps_to_one_core_action_and_back() -> None:
    assert set(CORE_ACTION) == set(AdminWithdrawalAction)
    assert set(CORE_ACTION.values()) == set(WithdrawalAction)
    assert len(set(CORE_ACTION.values())) == len(CORE_ACTION)
    for button, action in CORE_ACTION.items():
        assert BUTTON_ACTION[action] is button


def test_what_a_card_offers_has_a_button() -> None:
    offered = {a for status in WithdrawalStatus for a in offered_actions(status)}
    assert offered == set(WithdrawalAction)
    assert offered_actions(WithdrawalStatus.PENDING) == (
        WithdrawalAction.APPROVE,
        WithdrawalAction.REJECT,
    )
    for final in (WithdrawalStatus.COMPLETED, WithdrawalStatus.REJECTED):
        assert offered_actions(final) == ()
