"""One payment-status vocabulary: every status the provider sends maps to one of ours."""

from __future__ import annotations

from core.db.models import FINAL_PAYMENT_STATUSES, PaymentStatus
from core.nowpayments import FINAL_STATUSES, PROVIDER_STATUSES, known_status

# The provider's documented statuses (its API table) and the one a merchant sets by hand.
WIRE = (
    "waiting",
    "confirming",
    "confirmed",
    "sending",
    "partially_paid",
    "finished",
    "failed",
    "refunded",
    "expired",
    "cancelled",
)


def test_every_provider_status_maps_to_ours() -> None:
    assert set(PROVIDER_STATUSES) == set(WIRE)
    for wire in WIRE:
        ours = known_status(wire)
        assert isinstance(ours, PaymentStatus) and ours.value == wire
        assert known_status(f" {wire.upper()} ") is ours


def test_only_our_own_steps_have_no_provider_word() -> None:
    unmapped = set(PaymentStatus) - set(PROVIDER_STATUSES.values())
    assert unmapped == {PaymentStatus.CREATING, PaymentStatus.CREATE_FAILED}


def test_final_means_the_same_on_both_sides() -> None:
    for wire, ours in PROVIDER_STATUSES.items():
        assert (wire in FINAL_STATUSES) == (ours in FINAL_PAYMENT_STATUSES), wire


def test_spelling_variants_and_unknown_statuses() -> None:
    assert known_status("canceled") is PaymentStatus.CANCELLED
    assert known_status("spending") is None
