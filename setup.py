"""Packaging that pyproject.toml cannot say: the wheel carries the top-level `migrations/`
directory as the package `core._migrations`, so `python -m bot migrate` works from an installed
wheel with no checkout (core/migrate.py looks there first). Everything else is in pyproject.toml.

Build: `python -m pip wheel --no-deps -w dist .`
"""

from setuptools import find_namespace_packages, setup

MIGRATIONS = "core._migrations"

setup(
    packages=[
        *find_namespace_packages(include=["core", "core.*", "bot", "bot.*"]),
        MIGRATIONS,
        f"{MIGRATIONS}.versions",
    ],
    package_dir={MIGRATIONS: "migrations"},
    package_data={MIGRATIONS: ["script.py.mako"], "bot": ["locales/*/*.ftl"]},
)
