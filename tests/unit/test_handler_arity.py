"""A handler takes only what it uses: no function in bot/handlers/ (handler or helper) has more
than six parameters. Services come whole from the dispatcher's data, and what one update's
steps share travels as one small value, so a long list means a handler reaches past its service.
"""

from __future__ import annotations

import ast

from tests.support.paths import ROOT

HANDLERS = ROOT / "bot" / "handlers"
MAX_PARAMETERS = 6


def _parameter_count(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    args = node.args
    listed = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs)
    return listed + (args.vararg is not None) + (args.kwarg is not None)


def _too_long(source: str, name: str) -> list[str]:
    return [
        f"{name}:{node.lineno} {node.name} takes {_parameter_count(node)}"
        for node in ast.walk(ast.parse(source, name))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and _parameter_count(node) > MAX_PARAMETERS
    ]


def test_no_handler_takes_more_than_six_parameters() -> None:
    paths = sorted(HANDLERS.rglob("*.py"))
    assert len(paths) > 5  # the walk finds the handlers (a moved directory fails here)
    offenders = [
        found
        for path in paths
        for found in _too_long(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert offenders == []


def test_the_count_sees_every_kind_of_parameter() -> None:
    source = (
        "async def h(a, /, b, *rest, c, **more): ...\n"
        "def seven(a, b, c, d, e, f, *, g=None): ...\n"
        "class C:\n"
        "    def six(self, a, b, c, d, e): ...\n"
    )
    assert _too_long(source, "m.py") == ["m.py:2 seven takes 7"]
    assert _parameter_count(ast.parse(source).body[0]) == 5  # type: ignore[arg-type]
