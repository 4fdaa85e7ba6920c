"""Where the repository is, and what a build of it reads (no tests here)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What the wheel and the image are built from: a change here must reach both tests.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "core", "bot", "migrations")
