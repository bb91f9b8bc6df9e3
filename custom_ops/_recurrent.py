"""Shared machinery of the ONNX recurrent ops (LSTM, GRU, RNN), used by lstm.py, gru.py and rnn.py.

Two torch forms of one ONNX node:

* :class:`TorchRecurrent` wraps ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` (cuDNN/oneDNN kernels, real
  trainable parameters) when the node is what those modules compute: constant weights, default
  activations, no peepholes, clip, coupled gates or ``sequence_lens``;
* :class:`OnnxRecurrent` runs the ONNX equations step by step and covers the rest (any
  activation, peepholes, ``clip``, ``input_forget``, ``linear_before_reset=0``, per-example
  ``sequence_lens``, weights computed at run time).

Both unroll over the sequence length, which is static once the fixups pinned the input shapes,
so torch.export traces them with only the batch dimension dynamic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from custom_ops.base import constant_input, mapping

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}
_ALPHA = {"LeakyRelu": 0.01, "ThresholdedRelu": 1.0, "ScaledTanh": 1.0, "HardSigmoid": 0.2, "Elu": 1.0, "Affine": 1.0}
_BETA = {"ScaledTanh": 1.0, "HardSigmoid": 0.5, "Affine": 0.0}
_CANONICAL = {name.lower(): name for name in ("Relu", "Tanh", "Sigmoid", "Softsign", "Softplus", *_ALPHA)}


@dataclass(frozen=True)
class Activation:
    """One ONNX RNN activation function with its alpha/beta (Python constants)."""

    name: str
    alpha: float = 0.0
    beta: float = 0.0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        name, a, b = self.name, self.alpha, self.beta
        if name == "Sigmoid":
            return torch.sigmoid(x)
        if name == "Tanh":
            return torch.tanh(x)
        if name == "Relu":
            return torch.relu(x)
        if name == "LeakyRelu":
            return F.leaky_relu(x, a)
        if name == "ThresholdedRelu":
            return torch.where(x > a, x, torch.zeros_like(x))
        if name == "ScaledTanh":
            return a * torch.tanh(b * x)
        if name == "HardSigmoid":
            return torch.clamp(a * x + b, 0.0, 1.0)
        if name == "Elu":
            return F.elu(x, a)
        if name == "Softsign":
            return F.softsign(x)
        if name == "Softplus":
            return F.softplus(x)
        if name == "Affine":
            return a * x + b
        raise NotImplementedError(f"activation {name}")


def parse_activations(op: str, attrs: Any, directions: int) -> list[list[Activation]]:
    """Per direction, the activations of ``op`` (alpha/beta consumed in order by those that take them)."""
    names = [str(n) for n in attrs.get("activations", [])] or DEFAULT_ACTIVATIONS[op] * directions
    per_direction = len(DEFAULT_ACTIVATIONS[op])
    if len(names) != per_direction * directions:
        raise NotImplementedError(f"{op} with {len(names)} activations for {directions} direction(s)")
    alphas, betas = list(attrs.get("activation_alpha", [])), list(attrs.get("activation_beta", []))
    parsed = []
    for raw in names:
        name = _CANONICAL.get(raw.lower())
        if name is None:
            raise NotImplementedError(f"activation {raw}")
        alpha = (alphas.pop(0) if alphas else _ALPHA[name]) if name in _ALPHA else 0.0
        beta = (betas.pop(0) if betas else _BETA[name]) if name in _BETA else 0.0
        parsed.append(Activation(name, float(alpha), float(beta)))
    return [parsed[d * per_direction : (d + 1) * per_direction] for d in range(directions)]


def _reverse_within(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Reverse ``x`` ([T, B, ...]) along time, each example within its own length."""
    if lengths is None:
        return torch.flip(x, [0])
    steps = x.shape[0]
    t = torch.arange(steps, device=x.device).unsqueeze(1)  # [T, 1]
    src = lengths.to(torch.int64).unsqueeze(0) - 1 - t  # [T, B]
    src = torch.where(src >= 0, src, t.expand_as(src))  # padding positions stay in place
    index = src.reshape(src.shape + (1,) * (x.dim() - 2)).expand_as(x)
    return torch.gather(x, 0, index)


class OnnxRecurrent(nn.Module):
    """ONNX LSTM/GRU/RNN computed step by step from the operator's equations.

    Used when ``nn.LSTM``/``nn.GRU``/``nn.RNN`` cannot express the node (see the module docstring).
    """

    def __init__(
        self,
        op: str,
        hidden: int,
        direction: str,
        activations: list[list[Activation]],
        clip: float | None,
        input_forget: bool,
        linear_before_reset: bool,
        layout: int,
        n_outputs: int,
    ) -> None:
        super().__init__()
        self.op = op
        self.hidden = hidden
        self.direction = direction
        self.activations = activations
        self.clip = clip
        self.input_forget = input_forget
        self.linear_before_reset = linear_before_reset
        self.layout = layout
        self.n_outputs = n_outputs

    def _clip(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.clip is None else torch.clamp(x, -self.clip, self.clip)

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        r: torch.Tensor,
        b: torch.Tensor | None = None,
        sequence_lens: torch.Tensor | None = None,
        initial_h: torch.Tensor | None = None,
        initial_c: torch.Tensor | None = None,
        p: torch.Tensor | None = None,
    ) -> Any:
        if self.layout == 1:
            x = x.transpose(0, 1)
            initial_h = None if initial_h is None else initial_h.transpose(0, 1)
            initial_c = None if initial_c is None else initial_c.transpose(0, 1)
        steps, batch = x.shape[0], x.shape[1]
        hidden, gates = self.hidden, GATES[self.op]
        directions = 2 if self.direction == "bidirectional" else 1
        ys, hs, cs = [], [], []
        for d in range(directions):
            reverse = self.direction == "reverse" or d == 1
            bias = b[d] if b is not None else torch.zeros(2 * gates * hidden, dtype=x.dtype, device=x.device)
            wb, rb = bias[: gates * hidden], bias[gates * hidden :]
            h = initial_h[d] if initial_h is not None else x.new_zeros(batch, hidden)
            c = initial_c[d] if initial_c is not None else x.new_zeros(batch, hidden)
            xs = _reverse_within(x, sequence_lens) if reverse else x
            xw = torch.matmul(xs, w[d].transpose(0, 1)) + wb  # [T, B, G*H], all steps at once
            peep = p[d] if p is not None else None
            outputs = []
            for t in range(steps):
                h_new, c_new = self._step(xw[t], h, c, r[d], rb, peep, self.activations[d])
                if sequence_lens is not None:
                    valid = (sequence_lens.to(torch.int64) > t).unsqueeze(1)
                    h = torch.where(valid, h_new, h)
                    c = torch.where(valid, c_new, c)
                    outputs.append(torch.where(valid, h_new, torch.zeros_like(h_new)))
                else:
                    h, c = h_new, c_new
                    outputs.append(h_new)
            y = torch.stack(outputs)  # [T, B, H]
            ys.append(_reverse_within(y, sequence_lens) if reverse else y)
            hs.append(h)
            cs.append(c)
        y = torch.stack(ys, 1)  # [T, D, B, H]
        y_h, y_c = torch.stack(hs), torch.stack(cs)
        if self.layout == 1:
            y, y_h, y_c = y.permute(2, 0, 1, 3), y_h.transpose(0, 1), y_c.transpose(0, 1)
        results = (y, y_h, y_c)[: self.n_outputs]
        return results[0] if self.n_outputs == 1 else results

    def _step(
        self,
        xw: torch.Tensor,
        h: torch.Tensor,
        c: torch.Tensor,
        r: torch.Tensor,
        rb: torch.Tensor,
        peep: torch.Tensor | None,
        acts: list[Activation],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.hidden
        if self.op == "RNN":
            return acts[0](self._clip(xw + torch.matmul(h, r.transpose(0, 1)) + rb)), c
        if self.op == "LSTM":
            pre = xw + torch.matmul(h, r.transpose(0, 1)) + rb
            i, o, f, g = pre.split(hidden, dim=-1)
            if peep is not None:
                p_i, p_o, p_f = peep.split(hidden)
                i, f = i + p_i * c, f + p_f * c
            i = acts[0](self._clip(i))
            f = 1.0 - i if self.input_forget else acts[0](self._clip(f))
            c_new = f * c + i * acts[1](self._clip(g))
            if peep is not None:
                o = o + p_o * c_new
            o = acts[0](self._clip(o))
            return o * acts[2](c_new), c_new
        # GRU: gates z, r, h
        xz, xr, xh = xw.split(hidden, dim=-1)
        rz, rr, rh = r.split(hidden, dim=0)
        bz, br, bh = rb.split(hidden)
        z = acts[0](self._clip(xz + torch.matmul(h, rz.transpose(0, 1)) + bz))
        reset = acts[0](self._clip(xr + torch.matmul(h, rr.transpose(0, 1)) + br))
        if self.linear_before_reset:
            hh = reset * (torch.matmul(h, rh.transpose(0, 1)) + bh)
        else:
            hh = torch.matmul(reset * h, rh.transpose(0, 1)) + bh
        n = acts[1](self._clip(xh + hh))
        return (1.0 - z) * n + z * h, c


# gate order ONNX -> torch, as slices of the ONNX gate blocks
_TORCH_ORDER = {"LSTM": (0, 2, 3, 1), "GRU": (1, 0, 2), "RNN": (0,)}  # i,o,f,c -> i,f,g,o; z,r,h -> r,z,n


class TorchRecurrent(nn.Module):
    """ONNX LSTM/GRU/RNN as ``nn.LSTM``/``nn.GRU``/``nn.RNN`` with the node's weights as parameters.

    The fast path (see the module docstring): torch's fused kernels, and a module a person
    would have written by hand.
    """

    def __init__(self, rnn: nn.Module, reverse_only: bool, layout: int, n_outputs: int, op: str) -> None:
        super().__init__()
        self.rnn = rnn
        self.reverse_only = reverse_only
        self.layout = layout
        self.n_outputs = n_outputs
        self.op = op

    def forward(
        self,
        x: torch.Tensor,
        initial_h: torch.Tensor | None = None,
        initial_c: torch.Tensor | None = None,
    ) -> Any:
        time_axis = 1 if self.layout == 1 else 0
        if self.layout == 1:
            initial_h = None if initial_h is None else initial_h.transpose(0, 1).contiguous()
            initial_c = None if initial_c is None else initial_c.transpose(0, 1).contiguous()
        if self.reverse_only:
            x = torch.flip(x, [time_axis])
        state: Any = None
        if self.op == "LSTM":
            if initial_h is not None or initial_c is not None:
                ref = initial_h if initial_h is not None else initial_c
                assert ref is not None
                state = (
                    initial_h if initial_h is not None else torch.zeros_like(ref),
                    initial_c if initial_c is not None else torch.zeros_like(ref),
                )
            y, (y_h, y_c) = self.rnn(x, state)
        else:
            y, y_h = self.rnn(x, initial_h)
            y_c = y_h
        if self.reverse_only:
            y = torch.flip(y, [time_axis])
        directions = 2 if self.rnn.bidirectional else 1
        if self.layout == 1:  # [B, T, D*H] -> [B, T, D, H]; states [D, B, H] -> [B, D, H]
            y = y.reshape(y.shape[0], y.shape[1], directions, -1)
            y_h, y_c = y_h.transpose(0, 1), y_c.transpose(0, 1)
        else:  # [T, B, D*H] -> [T, D, B, H]
            y = y.reshape(y.shape[0], y.shape[1], directions, -1).permute(0, 2, 1, 3)
        results = (y, y_h, y_c)[: self.n_outputs]
        return results[0] if self.n_outputs == 1 else results


def _reorder(block: np.ndarray, op: str, hidden: int) -> np.ndarray:
    parts = [block[k * hidden : (k + 1) * hidden] for k in range(GATES[op])]
    return np.concatenate([parts[k] for k in _TORCH_ORDER[op]], axis=0)


def _torch_module(op: str, w: np.ndarray, r: np.ndarray, b: np.ndarray | None, attrs: Any, hidden: int) -> nn.Module:
    directions, gates = w.shape[0], GATES[op]
    kwargs: dict[str, Any] = {"batch_first": int(attrs.get("layout", 0)) == 1, "bidirectional": directions == 2}
    if op == "RNN":
        name = parse_activations(op, attrs, directions)[0][0].name
        kwargs["nonlinearity"] = name.lower()
    cls = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}[op]
    module = cls(w.shape[2], hidden, **kwargs)
    dtype = torch.from_numpy(w[:0]).dtype
    module = module.to(dtype)
    with torch.no_grad():
        for d in range(directions):
            suffix = "_reverse" if d == 1 else ""
            bias = b[d] if b is not None else np.zeros(2 * gates * hidden, dtype=w.dtype)
            values = {
                f"weight_ih_l0{suffix}": _reorder(w[d], op, hidden),
                f"weight_hh_l0{suffix}": _reorder(r[d], op, hidden),
                f"bias_ih_l0{suffix}": _reorder(bias[: gates * hidden], op, hidden),
                f"bias_hh_l0{suffix}": _reorder(bias[gates * hidden :], op, hidden),
            }
            for key, value in values.items():
                getattr(module, key).copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return module


def _fast_path_ok(op: str, node: Any, graph: Any, attrs: Any, directions: int) -> bool:
    names = node.input_values
    if any(constant_input(node, graph, i) is None for i in (1, 2)):
        return False
    if len(names) > 3 and names[3] and constant_input(node, graph, 3) is None:
        return False
    if len(names) > 4 and names[4]:  # sequence_lens: nn.* needs packing, which torch.export cannot trace
        return False
    if op == "LSTM" and len(names) > 7 and names[7]:
        peep = constant_input(node, graph, 7)
        if peep is None or np.any(peep != 0):
            return False
    if "clip" in attrs or int(attrs.get("input_forget", 0)):
        return False
    if op == "GRU" and not int(attrs.get("linear_before_reset", 0)):
        return False
    acts = [a for per in parse_activations(op, attrs, directions) for a in per]
    if op == "RNN":
        return all(a.name == acts[0].name and a.name in ("Tanh", "Relu") for a in acts)
    return all(a == default for a, default in zip(acts, _defaults(op, directions), strict=True))


def _defaults(op: str, directions: int) -> list[Activation]:
    return [Activation(n, *_default_params(n)) for n in DEFAULT_ACTIVATIONS[op] * directions]


def _default_params(name: str) -> tuple[float, float]:
    return (_ALPHA.get(name, 0.0), _BETA.get(name, 0.0))


def converter(op: str) -> Callable[[Any, Any], Any]:
    """The onnx2torch-contract converter for ``op`` (LSTM, GRU or RNN)."""

    def convert(node: Any, graph: Any) -> Any:
        from onnx2torch.utils.common import OperationConverterResult

        attrs = node.attributes
        direction = str(attrs.get("direction", "forward"))
        if direction not in ("forward", "reverse", "bidirectional"):
            raise NotImplementedError(f"direction {direction!r}")
        directions = 2 if direction == "bidirectional" else 1
        n_outputs = len(node.output_values)
        layout = int(attrs.get("layout", 0))
        w = constant_input(node, graph, 1)
        hidden = int(attrs["hidden_size"]) if "hidden_size" in attrs else None
        if hidden is None:
            r = constant_input(node, graph, 2)
            if r is None:
                raise NotImplementedError(f"{op} without hidden_size and with run-time weights")
            hidden = int(r.shape[-1])
        if _fast_path_ok(op, node, graph, attrs, directions):
            assert w is not None
            r = constant_input(node, graph, 2)
            b = constant_input(node, graph, 3)
            assert r is not None
            rnn = _torch_module(op, w, r, b, attrs, hidden)
            module = TorchRecurrent(rnn, direction == "reverse", layout, n_outputs, op)
            keep = (0, 5, 6) if op == "LSTM" else (0, 5)
            names = node.input_values
            inputs = tuple(names[i] if i < len(names) else "" for i in keep)
            while inputs and not inputs[-1]:
                inputs = inputs[:-1]
            from onnx2torch.utils.common import OnnxMapping

            return OperationConverterResult(
                torch_module=module, onnx_mapping=OnnxMapping(inputs=inputs, outputs=node.output_values)
            )
        module = OnnxRecurrent(
            op,
            hidden,
            direction,
            parse_activations(op, attrs, directions),
            float(attrs["clip"]) if "clip" in attrs else None,
            bool(int(attrs.get("input_forget", 0))),
            bool(int(attrs.get("linear_before_reset", 0))),
            layout,
            n_outputs,
        )
        return OperationConverterResult(torch_module=module, onnx_mapping=mapping(node))

    return convert
