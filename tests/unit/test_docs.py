"""The operator's manual stays true: every setting documented, nothing pointing outside."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from pydantic import BaseModel

from core.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]


def _keys() -> list[str]:
    keys = []
    for section, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        keys += [f"{section}.{key}" for key in model.model_fields]
    return keys


def test_every_setting_is_documented_with_its_env_form() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| `(PAYBOT_[A-Z_]+)`", doc, re.M))
    expected = {(key, ENV_PREFIX + key.upper().replace(".", "__")) for key in _keys()}
    assert expected - documented == set(), "settings missing from docs/configuration.md"
    assert documented - expected == set(), "docs/configuration.md names settings that are gone"


def test_nothing_committed_points_outside_the_repository() -> None:
    files = subprocess.run(
        ["git", "ls-files", "*.md", "*.yaml", "*.yml", "*.toml", "*.example", "Makefile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "README.md" in files
    for name in files:
        text = (ROOT / name).read_text(encoding="utf-8")
        assert "../shared" not in text, name
        assert "CONVENTIONS.md" not in text, name


def test_the_readme_keeps_exactly_two_set_up_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set-up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^    (\S.*)$", setup, re.M)
    assert commands == ["make run", "make test"]
