"""The training check's one-array-at-a-time .npz writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.training.arrays import ArrayWriter


def test_arrays_read_back_with_np_load(tmp_path: Path) -> None:
    path = tmp_path / "halves.npz"
    values = {"grad/dense/kernel": np.arange(12, dtype=np.float32).reshape(3, 4), "loss/fit": np.asarray(0.5)}
    with ArrayWriter(path) as out:
        for name, value in values.items():
            out[name] = value
        assert "loss/fit" in out
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == sorted(values)
        for name, value in values.items():
            np.testing.assert_array_equal(data[name], value)
            assert data[name].dtype == value.dtype


def test_failure_leaves_no_file_and_names_are_written_once(tmp_path: Path) -> None:
    path = tmp_path / "halves.npz"
    with pytest.raises(KeyError, match="written twice"), ArrayWriter(path) as out:
        out["a"] = np.zeros(2)
        out["a"] = np.ones(2)
    assert not path.exists()
