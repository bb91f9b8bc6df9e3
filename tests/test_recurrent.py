"""Keras recurrent models convert and validate: LSTM, GRU, SimpleRNN, Bidirectional, stacked, Embedding inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pipeline
from tests import zoo_models
from tests.checks import assert_converted


def test_lstm_gru_simple_rnn_both_return_sequences(tmp_path: Path) -> None:
    result = pipeline.convert(zoo_models.recurrent_layers(), tmp_path / "out")
    assert_converted(result)
    outputs = set(result.report["validation"]["tf_vs_torch"]["outputs"])
    assert outputs == {f"{k}_{m}" for k in zoo_models.RECURRENT for m in ("seq", "last")}


def test_bidirectional(tmp_path: Path) -> None:
    assert_converted(pipeline.convert(zoo_models.bidirectional(), tmp_path / "out"))


def test_stacked(tmp_path: Path) -> None:
    assert_converted(pipeline.convert(zoo_models.stacked(), tmp_path / "out"))


def test_embedding_without_mask(tmp_path: Path) -> None:
    assert_converted(pipeline.convert(zoo_models.embedding_recurrent(mask_zero=False), tmp_path / "out"))


@pytest.mark.parametrize("batch", [3])
def test_embedding_with_mask_zero(tmp_path: Path, batch: int) -> None:
    """Padded and interior-zero tokens: every layer must skip the masked steps as Keras does."""
    import torch

    model = zoo_models.embedding_recurrent(mask_zero=True)
    tokens = zoo_models.masked_tokens(batch)
    np.savez(tmp_path / "tokens.npz", tokens=tokens)
    result = pipeline.convert(model, tmp_path / "out", inputs=tmp_path / "tokens.npz")
    assert_converted(result)
    # another batch size, straight from the exported program
    other = zoo_models.masked_tokens(5, seed=1)
    with torch.no_grad():
        got = result.torch_module(torch.from_numpy(other))
    for value, expected in zip(got, model(other, training=False), strict=True):
        np.testing.assert_allclose(value.numpy(), np.asarray(expected), rtol=1e-4, atol=1e-5)
