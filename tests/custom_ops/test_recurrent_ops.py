"""ONNX LSTM / GRU / RNN nodes: the torch modules reproduce ONNX Runtime and export with a dynamic batch."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper, numpy_helper

from tests.custom_ops.helpers import assert_exports, make_model
from tests.onnx_checks import assert_matches_ort, run_ort, run_torch

T, B, IN, H = 5, 3, 4, 6
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _case(
    op: str,
    direction: str = "forward",
    layout: int = 0,
    seq_lens: bool = False,
    initial: bool = False,
    weights_as_inputs: bool = False,
    peepholes: bool = False,
    outputs: int = 2,
    **attrs: object,
) -> tuple[object, dict[str, np.ndarray], dict[str, int]]:
    rng = np.random.default_rng(hash((op, direction, layout, seq_lens, initial)) % 2**32)
    d, g = (2 if direction == "bidirectional" else 1), GATES[op]
    x = rng.normal(size=(B, T, IN) if layout else (T, B, IN)).astype(np.float32)
    w = (rng.normal(size=(d, g * H, IN)) * 0.5).astype(np.float32)
    r = (rng.normal(size=(d, g * H, H)) * 0.5).astype(np.float32)
    b = (rng.normal(size=(d, 2 * g * H)) * 0.3).astype(np.float32)
    feeds = {"x": x}
    batch_axis = {"x": 0 if layout else 1}
    weights = {"w": w, "r": r, "b": b}
    names = ["x", "w", "r", "b"]
    if seq_lens:
        feeds["lens"] = np.array([T, 2, 4], dtype=np.int32)[:B]
        batch_axis["lens"] = 0
        names.append("lens")
    elif initial or peepholes:
        names.append("")
    if initial:
        shape = (B, d, H) if layout else (d, B, H)
        feeds["h0"] = rng.normal(size=shape).astype(np.float32)
        batch_axis["h0"] = 0 if layout else 1
        names.append("h0")
        if op == "LSTM":
            feeds["c0"] = rng.normal(size=shape).astype(np.float32)
            batch_axis["c0"] = 0 if layout else 1
            names.append("c0")
    elif peepholes:
        names += ["", ""]
    if peepholes:
        weights["p"] = (rng.normal(size=(d, 3 * H)) * 0.3).astype(np.float32)
        names.append("p")
    out_names = ["y", "y_h", "y_c"][:outputs]
    node = helper.make_node(
        op, names, out_names, hidden_size=H, direction=direction, **({"layout": layout} if layout else {}), **attrs
    )
    if weights_as_inputs:
        feeds = {**feeds, **weights}
        model = make_model([node], feeds, out_names, batch_axis=batch_axis)
    else:
        model = make_model([node], feeds, out_names, initializers=weights, batch_axis=batch_axis)
    return model, feeds, batch_axis


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_fast_path_matches_onnxruntime(op: str, direction: str) -> None:
    attrs = {"linear_before_reset": 1} if op == "GRU" else {}
    model, feeds, batch_axis = _case(op, direction, initial=True, outputs=3 if op == "LSTM" else 2, **attrs)
    module = assert_matches_ort(model, feeds, fixups=False).module
    assert "TorchRecurrent" in {type(m).__name__ for m in module.modules()}
    if direction == "bidirectional":  # (export is slow; one direction case per op is enough)
        assert_exports(module, feeds, batch_axis)


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
@pytest.mark.parametrize("fast", [True, False])
def test_batchwise_layout(op: str, fast: bool) -> None:
    """layout=1 (batch first), which ONNX Runtime cannot run: compared with the layout-0 node."""
    attrs = {"linear_before_reset": int(fast)} if op == "GRU" else ({} if fast else {"clip": 5.0})
    n_out = 3 if op == "LSTM" else 2
    reference, feeds, _ = _case(op, "bidirectional", initial=True, outputs=n_out, **attrs)
    expected = run_ort(reference, feeds)
    batchwise = {k: np.ascontiguousarray(v.swapaxes(0, 1)) for k, v in feeds.items()}
    node = reference.graph.node[0]
    batchwise_node = helper.make_node(
        op, list(node.input), list(node.output), hidden_size=H, direction="bidirectional", layout=1, **attrs
    )
    model = make_model(
        [batchwise_node],
        batchwise,
        [o.name for o in reference.graph.output],
        initializers={i.name: numpy_helper.to_array(i) for i in reference.graph.initializer},
        batch_axis={k: 0 for k in batchwise},
    )
    imported = run_torch(model, batchwise, fixups=False)
    module, got = imported.module, imported.outputs
    np.testing.assert_allclose(got[0], expected[0].transpose(2, 0, 1, 3), rtol=1e-4, atol=1e-5)
    for g, e in zip(got[1:], expected[1:], strict=True):
        np.testing.assert_allclose(g, e.swapaxes(0, 1), rtol=1e-4, atol=1e-5)
    if not fast:
        assert_exports(module, batchwise, {k: 0 for k in batchwise})


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_sequence_lens_matches_onnxruntime(op: str, direction: str) -> None:
    model, feeds, batch_axis = _case(op, direction, seq_lens=True, initial=True)
    module = assert_matches_ort(model, feeds, fixups=False).module
    assert "OnnxRecurrent" in {type(m).__name__ for m in module.modules()}
    if direction == "bidirectional":
        assert_exports(module, feeds, batch_axis)


@pytest.mark.parametrize(
    "op,direction,attrs",
    [
        ("GRU", "forward", {"linear_before_reset": 0}),
        ("LSTM", "forward", {"clip": 0.5}),
        ("LSTM", "reverse", {"input_forget": 1}),
        ("RNN", "forward", {"activations": ["Relu"]}),
        ("RNN", "bidirectional", {"activations": ["LeakyRelu", "Sigmoid"], "activation_alpha": [0.2]}),
        (
            "GRU",
            "forward",
            {"activations": ["HardSigmoid", "Softsign"], "activation_alpha": [0.3], "activation_beta": [0.4]},
        ),
        ("LSTM", "bidirectional", {"activations": ["Sigmoid", "Tanh", "Tanh", "HardSigmoid", "Relu", "Elu"]}),
    ],
)
def test_general_path_options(op: str, direction: str, attrs: dict[str, object]) -> None:
    model, feeds, _ = _case(op, direction, **attrs)
    assert_matches_ort(model, feeds, fixups=False)


def test_lstm_peepholes_and_weights_at_run_time() -> None:
    model, feeds, _ = _case("LSTM", "bidirectional", initial=True, peepholes=True, outputs=3)
    assert_matches_ort(model, feeds, fixups=False)
    model, feeds, batch_axis = _case("GRU", "forward", weights_as_inputs=True, outputs=1)
    module = assert_matches_ort(model, feeds, fixups=False).module
    assert_exports(module, feeds, batch_axis)
