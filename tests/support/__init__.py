"""Helpers shared by test packages: invariant assertions and money set-up through the real
services (no tests here)."""
