"""The `padded` input set: tails of masked inputs set to the mask value, other inputs and rows untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

import pipeline
from pipeline.config import ConversionConfig
from pipeline.context import TensorSpec
from pipeline.input_padding import kept_steps, padded_set
from pipeline.inputs import load_sets, make_input_sets
from tests.checks import PAIRS, assert_converted


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


def _masking_lstm() -> object:
    import keras

    frames = keras.Input((6, 3), name="frames")
    masked = keras.layers.Masking(0.0, name="mask")(frames)
    return keras.Model(frames, keras.layers.LSTM(4, name="lstm")(masked), name="masking_lstm")


@pytest.mark.slow
@pytest.mark.parametrize("build", ["masking", "mask_zero"])
def test_masked_models_pass_on_the_padded_set_in_every_runtime(build: str, tmp_path: Path) -> None:
    from tests import zoo_models

    model = _masking_lstm() if build == "masking" else zoo_models.embedding_recurrent(mask_zero=True)
    result = pipeline.convert(model, tmp_path / "out")
    assert_converted(result)
    validation = result.report["validation"]
    assert all(validation[pair]["sets"]["padded"]["passed"] for pair in PAIRS)
    sets = load_sets(tmp_path / "out" / "inputs.npz")
    name, padded = next(iter(sets["padded"].items()))
    random = sets["random"][name]
    assert (padded[0] == random[0]).all() and (padded[1, -1] == 0).all() and not (padded == random).all()
