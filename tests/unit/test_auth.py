"""The admin check: core.auth.AdminGate, the one place an admin id is checked, and the proof it
hands out, which every admin method in core takes."""

from __future__ import annotations

import pytest

from core.auth import Admin, AdminGate, require_admin
from core.errors import Forbidden


def test_only_listed_integer_ids_are_admins() -> None:
    require_admin([1, 42], 42)
    for actor in (7, True, "42", 42.0, None):
        with pytest.raises(Forbidden) as info:
            require_admin([1, 42], actor)
        assert info.value.reason == "not_admin"


def test_the_gate_admits_admins_only_and_its_proof_cannot_be_forged() -> None:
    gate = AdminGate([1, 42])
    assert gate.authorize(42) == gate.authorize(42)
    assert gate.authorize(42).telegram_id == 42
    assert gate.admit(1) is not None
    for actor in (7, True, "42", 42.0, None, -42):
        with pytest.raises(Forbidden) as info:
            gate.authorize(actor)
        assert info.value.reason == "not_admin"
        assert gate.admit(actor) is None
    # Built by hand, even for a real admin's id, a proof is refused: only the gate makes one.
    for forged_key in (None, object()):
        with pytest.raises(Forbidden):
            Admin(42, forged_key)
