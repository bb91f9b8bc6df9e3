"""Every op version our converters claim is run by a test, or listed among the known untested claims."""

from __future__ import annotations

import re

from pipeline.custom_versions import CUSTOM
from tests.conftest import ROOT
from tests.custom_ops.claimed_versions import TESTED_BY, UNTESTED

CLAIMED = {(domain, op, version) for (domain, op), versions in CUSTOM.items() for version in versions}


def test_every_claimed_version_names_the_test_that_runs_it() -> None:
    unnamed = sorted(CLAIMED - set(TESTED_BY) - UNTESTED)
    assert unnamed == [], f"claimed, but no test runs them (add a test, or claim less): {unnamed}"
    assert sorted(set(TESTED_BY) - CLAIMED) == [], "named for versions no converter claims any more"
    assert sorted(UNTESTED - CLAIMED) == [], "listed as untested, but no converter claims them any more"
    assert sorted(UNTESTED & set(TESTED_BY)) == [], "both tested and listed as untested"


def test_the_named_tests_exist() -> None:
    for key, test in TESTED_BY.items():
        path, _, name = test.partition("::")
        function = re.sub(r"\[.*\]$", "", name)
        source = (ROOT / path).read_text(encoding="utf-8")
        assert f"def {function}(" in source, f"{key}: {test} is not a test of {path}"
