"""Per test, the op versions our converters ran; a test named in ``claimed_versions.json`` must run its versions.

Set ``K2T_CONVERTER_VERSIONS=<file.json>`` to write, per test, the ``(domain, op, since_version)``
our converters built in it (``python -m tests.custom_ops.claimed_versions <file.json>`` turns
that into the table).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import onnx_checks
from tests.custom_ops.claimed_versions import TESTED_BY

RAN: dict[str, list[tuple[str, str, int]]] = {}
ENV = "K2T_CONVERTER_VERSIONS"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    if report.when == "call":
        item.stash[_PASSED] = report.passed
    return report


_PASSED = pytest.StashKey[bool]()


@pytest.fixture(autouse=True)
def _converter_versions(request: pytest.FixtureRequest) -> Iterator[None]:
    onnx_checks.USED.clear()
    yield
    ran = {(u.domain, u.op_type, u.version) for u in onnx_checks.USED if u.source == "custom_ops"}
    RAN[request.node.nodeid] = sorted(ran)
    if not request.node.stash.get(_PASSED, False):
        return
    expected = {key for key, test in TESTED_BY.items() if test == request.node.nodeid}
    missing = sorted(expected - ran)
    assert not missing, f"claimed_versions.json names this test for {missing}, which our converters did not run"


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get(ENV)
    if path:
        Path(path).write_text(json.dumps(RAN, indent=1) + "\n", encoding="utf-8")
