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


def test_array_file_reads_several_files_one_array_at_a_time(tmp_path: Path) -> None:
    from pipeline.training.arrays import ArrayFile

    with ArrayWriter(tmp_path / "a.npz") as out:
        out["grad/k"] = np.ones(3, np.float32)
    with ArrayWriter(tmp_path / "b.npz") as out:
        out["index/w"] = np.arange(3, dtype=np.int32)
    arrays = ArrayFile(tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "absent.npz")
    try:
        assert sorted(arrays) == ["grad/k", "index/w"] and len(arrays) == 2
        np.testing.assert_array_equal(arrays["index/w"], [0, 1, 2])
        assert arrays.get("grad/x") is None and "grad/k" in arrays
    finally:
        arrays.close()
