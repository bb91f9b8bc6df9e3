"""Config files: size cap, names from the command line, files that are not batch files, refused names."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import MAX_CONFIG_BYTES, check_name
from pipeline.config_files import load_batch, load_for_model
from pipeline.errors import ConfigError


def test_oversized_config_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("w") as f:
        f.write("models:\n")
        line = "  - {name: m, source: example:seed_cnn}\n"
        f.write(line * (MAX_CONFIG_BYTES // len(line) + 1))
    with pytest.raises(ConfigError, match=r"too large for a config file \(the limit is 2 MB\)"):
        load_batch(path)


def test_binary_file_is_not_a_config(tmp_path: Path) -> None:
    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not a text"):
        load_for_model(path, None)


def test_names_from_the_command_line_are_checked() -> None:
    assert check_name("resnet50_v1.5") == "resnet50_v1.5" and check_name(None) is None
    for bad in ("../../../victim", "..", "a/b", ".hidden", "-x"):
        with pytest.raises(ConfigError, match="cannot name an output folder"):
            check_name(bad)


def test_a_single_entry_file_is_not_a_batch_file(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text("source: example:seed_cnn\nfoo: 1\n")
    with pytest.raises(ConfigError, match="not a batch file") as info:
        load_batch(path, require_batch=True)
    assert "unknown key" not in str(info.value)


def test_a_refused_name_does_not_take_the_next_entrys_name(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("models:\n  - {name: ../evil, source: a.keras}\n  - {source: a.keras}\n")
    first, second = load_batch(path, strict=False).entries
    assert first.error is not None and "cannot name an output folder" in str(first.error)
    assert second.error is None and second.name == "a"
