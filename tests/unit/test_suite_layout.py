"""The test suite's own shape: helpers live in tests/support/ and fixtures in conftest.py files,
so no test module imports another (or a conftest), and every test_*.py holds tests."""

from __future__ import annotations

import ast

from tests.support.paths import ROOT

TESTS = ROOT / "tests"


def _imported_modules(tree: ast.Module) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return found


def _is_test_or_conftest(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return module.startswith("tests.") and (last.startswith("test_") or last == "conftest")


def test_no_module_imports_a_test_module_or_a_conftest() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted(TESTS.rglob("*.py"))
        for module in _imported_modules(ast.parse(path.read_text(), str(path)))
        if _is_test_or_conftest(module)
    ]
    assert offenders == []


def test_every_test_module_holds_tests() -> None:
    helpers = []
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(), str(path))
        names = [
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ]
        if not any(n.startswith(("test_", "Test")) for n in names):
            helpers.append(str(path.relative_to(ROOT)))
    assert helpers == [], "helpers belong in tests/support/"


def test_the_check_sees_an_import_of_a_test_module() -> None:
    tree = ast.parse(
        "from tests.integration.test_poller import poller\nimport tests.e2e.conftest\n"
    )
    assert [m for m in _imported_modules(tree) if _is_test_or_conftest(m)] == [
        "tests.integration.test_poller",
        "tests.e2e.conftest",
    ]
