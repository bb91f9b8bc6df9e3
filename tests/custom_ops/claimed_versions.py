"""Which test runs each op version our converters claim (:data:`pipeline.custom_versions.CUSTOM`).

A converter may claim only versions a test runs through it: ``tests/custom_ops/conftest.py``
checks that each test named in ``claimed_versions.json`` converts its versions with our
converter, and ``test_claimed_versions.py`` that every claim is named there. Its ``untested``
list holds the claims made before that rule, which no test runs yet; it only shrinks.

``K2T_CONVERTER_VERSIONS=ran.json pytest tests/custom_ops`` then
``python -m tests.custom_ops.claimed_versions ran.json`` writes the file anew.
"""

from __future__ import annotations

import json
from pathlib import Path

TABLE = Path(__file__).with_name("claimed_versions.json")
Key = tuple[str, str, int]


def _load() -> tuple[dict[Key, str], frozenset[Key]]:
    data = json.loads(TABLE.read_text(encoding="utf-8"))
    tested = {(str(d), str(o), int(v)): str(test) for d, o, v, test in data["tested_by"]}
    return tested, frozenset((str(d), str(o), int(v)) for d, o, v in data["untested"])


TESTED_BY, UNTESTED = _load()


def write_table(ran_path: str) -> None:
    """Write ``claimed_versions.json`` from what each test ran (the conftest's ``K2T_CONVERTER_VERSIONS`` file)."""
    from pipeline.custom_versions import CUSTOM

    ran: dict[str, list[list[object]]] = json.loads(Path(ran_path).read_text(encoding="utf-8"))
    claimed = {(d, o, v) for (d, o), versions in CUSTOM.items() for v in versions}
    tested: dict[Key, str] = {}
    for test, keys in sorted(ran.items()):
        for d, o, v in keys:
            key = (str(d), str(o), int(v))  # type: ignore[call-overload]
            if key in claimed:
                tested.setdefault(key, test)
    rows = [json.dumps([*key, tested[key]]) for key in sorted(tested)]
    untested = [json.dumps(list(key)) for key in sorted(claimed - set(tested))]
    text = '{\n"tested_by": [\n' + ",\n".join(rows) + '\n],\n"untested": [\n' + ",\n".join(untested) + "\n]\n}\n"
    TABLE.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    import sys

    write_table(sys.argv[1])
