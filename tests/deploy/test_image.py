"""The Dockerfile and .dockerignore, read as text (no Docker engine here): a multi-stage build on
slim Python, dependencies from the hash-pinned lock in their own layer, the project as a wheel,
a non-root runtime with an exec-form `python -m bot`, and a build context that holds what the
build copies and no secrets."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.paths import BUILD_INPUTS

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Instruction:
    keyword: str
    args: str
    stage: int


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined; comment lines (also inside one) dropped."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += line.removesuffix("\\").strip() + " "
        if line.endswith("\\"):
            continue
        keyword, _, args = pending.strip().partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            stage += 1
        instructions.append(Instruction(keyword.upper(), args.strip(), stage))
    assert not pending, "a continuation line ends the file"
    return instructions


INSTRUCTIONS = parse_dockerfile((ROOT / "Dockerfile").read_text())
FINAL = max(i.stage for i in INSTRUCTIONS)


def _in_stage(stage: int, keyword: str) -> list[Instruction]:
    return [i for i in INSTRUCTIONS if i.stage == stage and i.keyword == keyword]


def _copy_sources(instruction: Instruction) -> list[str]:
    words = [w for w in shlex.split(instruction.args) if not w.startswith("--")]
    return words[:-1]


def test_multi_stage_on_slim_python_311() -> None:
    froms = [i.args for i in INSTRUCTIONS if i.keyword == "FROM"]
    assert len(froms) >= 2
    (arg,) = [i.args for i in INSTRUCTIONS if i.keyword == "ARG" and i.stage == -1]
    name, _, default = arg.partition("=")
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", default), default
    for line in froms:
        image, as_, stage_name = line.split()
        assert image == f"${{{name}}}" and as_.upper() == "AS" and stage_name


def test_dependencies_come_from_the_lock_in_their_own_layer_before_the_source() -> None:
    build = [i for i in INSTRUCTIONS if i.stage == 0]
    copies = [i for i in build if i.keyword == "COPY"]
    assert _copy_sources(copies[0]) == ["requirements.lock"]
    lock_in_image = shlex.split(copies[0].args)[-1]
    install = build.index(copies[0]) + 1
    assert build[install].keyword == "RUN"
    words = shlex.split(build[install].args)
    assert "--require-hashes" in words and words[words.index("-r") + 1] == lock_in_image
    # Every pip install resolves nothing by itself: the lock with hashes, or the wheel --no-deps.
    for run in (i for i in INSTRUCTIONS if i.keyword == "RUN" and "install" in i.args):
        for command in run.args.split("&&"):
            if re.search(r"\bpip\b.*\binstall\b", command):
                assert "--require-hashes" in command or "--no-deps" in command, command
    assert any("pip" in i.args and " check" in i.args for i in build if i.keyword == "RUN")


def test_the_build_copies_what_the_wheel_test_builds_from() -> None:
    sources = [s for c in _in_stage(0, "COPY") for s in _copy_sources(c)]
    assert sorted(sources) == sorted(["requirements.lock", *BUILD_INPUTS])
    for source in sources:
        assert (ROOT / source).exists(), source


def test_runtime_is_non_root_with_no_source_and_an_exec_form_entry_point() -> None:
    for copy in _in_stage(FINAL, "COPY"):
        assert "--from=" in copy.args, f"the runtime copies from the context: {copy.args}"
    (user,) = _in_stage(FINAL, "USER")
    uid, _, gid = user.args.partition(":")
    assert uid.isdigit() and int(uid) >= 1000 and (not gid or int(gid) >= 1000)
    assert any(f"--uid {uid}" in r.args for r in _in_stage(FINAL, "RUN")), "user not created"
    last_user = max(INSTRUCTIONS.index(u) for u in _in_stage(FINAL, "USER"))
    assert all(INSTRUCTIONS.index(r) < last_user for r in _in_stage(FINAL, "RUN"))
    (entrypoint,) = _in_stage(FINAL, "ENTRYPOINT")
    (cmd,) = _in_stage(FINAL, "CMD")
    assert json.loads(entrypoint.args) == ["python", "-m", "bot"]
    assert json.loads(cmd.args) == ["run"]


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def in_build_context(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [p.strip() for p in lines if p.strip() and not p.strip().startswith("#")]
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    included = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = _dockerignore_regex(pattern.removeprefix("!").strip("/"))
        if any(regex.fullmatch(c) for c in candidates):
            included = negated
    return included


def _tracked(*paths: str) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", *paths], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_the_context_holds_everything_the_build_copies() -> None:
    sources = [s for c in _in_stage(0, "COPY") for s in _copy_sources(c)]
    files = _tracked(*sources)
    assert len(files) > len(sources)
    missing = [f for f in files if not in_build_context(f)]
    assert missing == []


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.owner",
        ".git/config",
        ".venv/bin/python",
        ".data/postgres/PG_VERSION",
        "tests/conftest.py",
        "core/__pycache__/money.cpython-311.pyc",
        "migrations/versions/__pycache__/x.pyc",
        "docker-compose.yml",
    ],
)
def test_the_context_leaves_out_secrets_and_clutter(path: str) -> None:
    assert not in_build_context(path)


def test_the_matcher_follows_docker_rules() -> None:
    """The rule the two tests above rely on, checked on the committed file."""
    assert in_build_context("core/money.py") and in_build_context("migrations/env.py")
    assert not in_build_context("config.dev.yaml")
