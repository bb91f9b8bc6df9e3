"""No test asserts something that cannot fail: a constant, ``x or True``, or two constants compared."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _cannot_fail(test: ast.expr) -> bool:
    if isinstance(test, ast.Constant):
        return True
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        return any(isinstance(v, ast.Constant) and v.value for v in test.values)
    if isinstance(test, ast.Compare):
        return all(isinstance(side, ast.Constant) for side in [test.left, *test.comparators])
    return False


def test_no_assert_that_cannot_fail() -> None:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assert) and _cannot_fail(node.test):
                found.append(f"{path.relative_to(TESTS)}:{node.lineno}: {ast.unparse(node)}")
    assert found == [], "\n".join(found)


def test_the_check_sees_vacuous_asserts() -> None:
    for source in ("assert True", "assert x or True", "assert 1 == 1", "assert 'always'"):
        assert _cannot_fail(ast.parse(source).body[0].test), source  # type: ignore[attr-defined]
    for source in ("assert x", "assert x or y", "assert x == 1"):
        assert not _cannot_fail(ast.parse(source).body[0].test), source  # type: ignore[attr-defined]
