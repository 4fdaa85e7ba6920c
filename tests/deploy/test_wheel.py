"""The wheel is enough: built from the files the image copies, installed into a fresh venv, and
`python -m bot migrate` run in an empty directory migrates a fresh database to head.

Offline and quick: the running setuptools builds (--no-build-isolation), the venv has no pip
(the running pip installs into it), and the dependencies come from this environment's
site-packages through a .pth file, which does not run that directory's own .pth files, so the
editable install of the checkout stays out of sight. The test checks that too.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from core.db.base import Base
from core.db.session import create_engine
from core.migrate import alembic_config
from tests.support.paths import BUILD_INPUTS, ROOT

# What the Dockerfile copies into its build stage (tests/deploy/test_image.py checks that).


@dataclass
class Installed:
    wheel: Path
    python: Path
    prefix: Path
    workdir: Path  # empty: no checkout, no alembic.ini, no .env


def _run(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _clean_env(**extra: str) -> dict[str, str]:
    """No PYTHONPATH (it would put the checkout first), no paybot settings but those given."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {**keep, "PYTHONNOUSERSITE": "1", **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    source.mkdir()
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    _run(
        *pip,
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-w",
        base / "dist",
        source,
        env=_clean_env(),
    )
    (wheel,) = (base / "dist").glob("paybot-*.whl")

    prefix = base / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", prefix)
    python = prefix / "bin" / "python"
    _run(
        *pip,
        "--python",
        python,
        "install",
        "-q",
        "--no-deps",
        "--no-index",
        wheel,
        env=_clean_env(),
    )
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    shared = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site.stdout.strip()) / "_paybot_test_deps.pth").write_text("\n".join(sorted(shared)))

    workdir = base / "empty"
    workdir.mkdir()
    return Installed(wheel, python, prefix, workdir)


def test_the_wheel_carries_the_migrations_and_no_more(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    shipped = sorted(
        n.removeprefix("core/_migrations/versions/")
        for n in names
        if n.startswith("core/_migrations/versions/") and n.endswith(".py")
    )
    in_repo = sorted(p.name for p in (ROOT / "migrations" / "versions").glob("*.py"))
    assert shipped == in_repo and in_repo
    assert {"core/_migrations/env.py", "core/_migrations/script.py.mako"} <= set(names)
    tops = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert tops == {"core", "bot"}  # no tests, bench or top-level `migrations` package


def test_the_installed_package_is_the_one_that_runs(installed: Installed) -> None:
    probe = (
        "import json, bot, core, core.migrate; print(json.dumps([core.__file__, bot.__file__,"
        " str(core.migrate.script_location())]))"
    )
    found = json.loads(
        _run(installed.python, "-c", probe, cwd=installed.workdir, env=_clean_env()).stdout
    )
    for path in map(Path, found):
        assert path.is_relative_to(installed.prefix), path
        assert not path.is_relative_to(ROOT), path
    assert found[2].endswith("core/_migrations")


async def test_migrate_from_the_installed_wheel(installed: Installed, empty_database: str) -> None:
    process = await asyncio.create_subprocess_exec(
        installed.python,
        "-m",
        "bot",
        "migrate",
        cwd=installed.workdir,
        env=_clean_env(PAYBOT_DATABASE__URL=empty_database),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, (out + err).decode()
    assert list(installed.workdir.iterdir()) == []  # nothing written where it ran

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = create_engine(empty_database, pool_size=1)
    try:
        async with engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
            tables = set(
                (
                    await conn.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    )
                ).scalars()
            )
    finally:
        await engine.dispose()
    assert version == [(head,)]
    assert set(Base.metadata.tables) <= tables
