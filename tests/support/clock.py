"""A clock tests move by hand: code that takes a ``clock`` (monotonic seconds) sees time pass
without anyone sleeping (no tests here)."""

from __future__ import annotations


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
