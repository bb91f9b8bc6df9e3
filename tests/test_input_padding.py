"""The `padded` input set: tails of masked inputs set to the mask value, other inputs and rows untouched."""

from __future__ import annotations

from pipeline.config import ConversionConfig
from pipeline.context import TensorSpec
from pipeline.input_padding import kept_steps, padded_set
from pipeline.inputs import make_input_sets


def test_rows_keep_different_lengths_and_at_least_one_step() -> None:
    assert kept_steps(16, 2) == [16, 8] and kept_steps(16, 1) == [8] and kept_steps(3, 4) == [3, 3, 2, 1]


def test_only_masked_inputs_get_a_padded_set() -> None:
    ids = TensorSpec("ids", [None, 6], "int32", low=0, high=50, pad_value=0.0)
    frames = TensorSpec("frames", [None, 6, 3], "float32", pad_value=-1.0)
    other = TensorSpec("other", [None, 4], "float32")
    sets = make_input_sets([ids, frames, other], ConversionConfig(batch_size=2))
    padded, random = sets["padded"], sets["random"]
    assert (padded["ids"][0] == random["ids"][0]).all() and (padded["ids"][1, 3:] == 0).all()
    assert (padded["ids"][1, :3] == random["ids"][1, :3]).all()
    assert (padded["frames"][1, 3:] == -1.0).all() and not (random["frames"][1, 3:] == -1.0).any()
    assert (padded["other"] == random["other"]).all()
    assert "padded" not in make_input_sets([other], ConversionConfig())
    assert padded_set({"other": random["other"]}, [other]) is None
