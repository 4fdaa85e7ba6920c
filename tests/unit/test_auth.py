"""The admin check that every admin path in core calls."""

from __future__ import annotations

import pytest

from core.auth import require_admin
from core.errors import Forbidden


def test_only_listed_integer_ids_are_admins() -> None:
    require_admin([1, 42], 42)
    for actor in (7, True, "42", 42.0, None):
        with pytest.raises(Forbidden) as info:
            require_admin([1, 42], actor)
        assert info.value.reason == "not_admin"
