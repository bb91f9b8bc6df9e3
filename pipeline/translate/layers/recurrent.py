"""Recurrent layers: LSTM, GRU, SimpleRNN, Bidirectional of them, and Masking.

Exact unmasked configurations become ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` (cuDNN / fused CPU
kernels); masked inputs, activations other than tanh/sigmoid, GRU ``reset_after=False`` and
Keras's per-sequence dropout become the ``KerasLSTM`` / ``KerasGRU`` / ``KerasSimpleRNN`` helpers:
subclasses of the torch modules (same parameter names, same state dict) that step in Python as
Keras does and fall back to the fused kernel where that is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value
from pipeline.translate.init import layer_init
from pipeline.translate.layers.common import activation_name

TORCH = {"LSTM": "nn.LSTM", "GRU": "nn.GRU", "SimpleRNN": "nn.RNN"}
LOOP = {"LSTM": "KerasLSTM", "GRU": "KerasGRU", "SimpleRNN": "KerasSimpleRNN"}
GATES = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}
STATES = {"LSTM": 2, "GRU": 1, "SimpleRNN": 1}


def _activation(name: str, ctx: Context) -> str:
    """A torch callable for a Keras activation used inside a recurrent cell."""
    table = {
        "tanh": "torch.tanh",
        "sigmoid": "torch.sigmoid",
        "relu": "torch.relu",
        "linear": "nn.Identity()",
        "softsign": "F.softsign",
        "elu": "F.elu",
        "swish": "F.silu",
        "selu": "torch.selu",
        "softplus": "F.softplus",
    }
    if name == "hard_sigmoid" and ctx.keras_version >= 3:
        return "F.hardsigmoid"
    if name not in table:
        raise Decline(f"recurrent activation '{name}' has no translation")
    return table[name]


@dataclass
class Cell:
    """What the translation needs from one Keras recurrent layer (one direction)."""

    kind: str  # LSTM | GRU | SimpleRNN
    layer: Any
    cell: Any
    units: int
    activation: str
    recurrent_activation: str
    use_bias: bool
    reset_after: bool
    dropout: float
    recurrent_dropout: float


CELLS = {"LSTMCell": "LSTM", "GRUCell": "GRU", "SimpleRNNCell": "SimpleRNN"}


def _cell(layer: Any) -> Cell:
    kind = type(layer).__name__
    cell = getattr(layer, "cell", layer)
    if kind == "RNN":  # keras.layers.RNN(LSTMCell(...)): the same layer written out
        kind = CELLS.get(type(cell).__name__, type(cell).__name__)
    if kind not in TORCH:
        raise Decline(f"recurrent layer or cell {kind} has no translation")
    if getattr(layer, "stateful", False):
        raise Decline("stateful=True: the state carried between calls has no counterpart in a torch module")
    if getattr(layer, "time_major", False):
        raise Decline("time_major=True")
    return Cell(
        kind=kind,
        layer=layer,
        cell=cell,
        units=int(cell.units),
        activation=activation_name(cell.activation),
        recurrent_activation=activation_name(getattr(cell, "recurrent_activation", None) or "sigmoid"),
        use_bias=bool(cell.use_bias),
        reset_after=bool(getattr(cell, "reset_after", True)),
        dropout=float(getattr(cell, "dropout", 0.0) or 0.0),
        recurrent_dropout=float(getattr(cell, "recurrent_dropout", 0.0) or 0.0),
    )


def _reorder_gru(array: np.ndarray, units: int) -> np.ndarray:
    """Keras GRU gates (z, r, h) along the last axis -> torch's (r, z, n)."""
    z, r, h = array[..., :units], array[..., units : 2 * units], array[..., 2 * units :]
    return np.concatenate([r, z, h], axis=-1)


def _weights(t: Translation, ctx: Context, trainable: bool, prefix: str, suffix: str, c: Cell) -> None:
    """Keras kernel / recurrent_kernel / bias -> torch weight_ih / weight_hh / bias_ih / bias_hh."""
    cell, units = c.cell, c.units
    kernel, recurrent = ctx.array(cell.kernel), ctx.array(cell.recurrent_kernel)
    bias = ctx.array(cell.bias) if c.use_bias else None
    bias_ih = bias_hh = None
    if c.kind == "GRU":
        kernel, recurrent = _reorder_gru(kernel, units), _reorder_gru(recurrent, units)
        if bias is not None:
            if bias.ndim == 2:  # reset_after: Keras's input bias and recurrent bias
                bias_ih, bias_hh = _reorder_gru(bias[0], units), _reorder_gru(bias[1], units)
            else:
                bias_ih = _reorder_gru(bias, units)
    else:
        bias_ih = bias
    gates = GATES[c.kind]

    def add(name: str, array: np.ndarray, variable: Any, init: str | None, frozen: bool = False) -> None:
        key = f"{prefix}.{name}{suffix}"
        t.weights[key] = np.ascontiguousarray(array, dtype=np.float32)
        if variable is not None:
            t.weight_map[key] = ctx.path(variable)
        if frozen or not trainable or (variable is not None and not getattr(variable, "trainable", True)):
            t.buffers.add(key)
        target = f"self.{key}"
        if frozen:
            t.init_lines.append(f"nn.init.zeros_({target})  # Keras has no second bias here: kept at zero")
        elif init is not None:
            shape = tuple(variable.shape)
            t.init_lines += layer_init(cell, init, target, shape, tuple(np.shape(array)))

    add("weight_ih", kernel.T, cell.kernel, "kernel_initializer")
    add("weight_hh", recurrent.T, cell.recurrent_kernel, "recurrent_initializer")
    if bias is None:
        return
    add("bias_ih", bias_ih, cell.bias, "bias_initializer")
    if c.kind == "GRU" and bias_hh is not None:
        add("bias_hh", bias_hh, cell.bias, None)  # the same Keras variable (its second row)
        t.init_lines += layer_init(
            cell, "bias_initializer", f"self.{prefix}.bias_hh{suffix}", (units * 3,), (units * 3,)
        )
    else:
        add("bias_hh", np.zeros(units * gates, np.float32), None, None, frozen=True)
    if c.kind == "LSTM" and getattr(cell, "unit_forget_bias", False):
        t.init_lines.append(f"nn.init.ones_(self.{prefix}.bias_ih{suffix}[{units}:{2 * units}])  # unit_forget_bias")


def _needs_loop(c: Cell, masked: bool) -> tuple[bool, list[str]]:
    """Whether the Python loop is needed, and why (for a note)."""
    why = []
    if masked:
        why.append("masked steps keep the previous state (Keras masking)")
    if c.activation != "tanh" and not (c.kind == "SimpleRNN" and c.activation == "relu"):
        why.append(f"activation {c.activation}")
    if c.kind != "SimpleRNN" and c.recurrent_activation != "sigmoid":
        why.append(f"recurrent_activation {c.recurrent_activation}")
    if c.kind == "GRU" and not c.reset_after:
        why.append("reset_after=False applies the reset gate before the recurrent kernel")
    if c.dropout or c.recurrent_dropout:
        why.append("Keras's dropout (one mask per sequence) in training")
    return bool(why), why


def _constructor(c: Cell, ctx: Context, input_size: int, bidirectional: bool, loop: bool, zero_output: bool) -> str:
    args = [str(input_size), str(c.units)]
    if loop:
        if c.activation != "tanh":
            args.append(f"activation={_activation(c.activation, ctx)}")
        if c.kind != "SimpleRNN" and c.recurrent_activation != "sigmoid":
            args.append(f"recurrent_activation={_activation(c.recurrent_activation, ctx)}")
        if bidirectional:
            args.append("bidirectional=True")
        if c.dropout:
            args.append(f"dropout={c.dropout!r}")
        if c.recurrent_dropout:
            args.append(f"recurrent_dropout={c.recurrent_dropout!r}")
        if zero_output:
            args.append("zero_output_for_mask=True")
        if c.kind == "GRU" and not c.reset_after:
            args.append("reset_after=False")
        if not c.use_bias:
            args.append("bias=False")
        return f"{LOOP[c.kind]}({', '.join(args)})"
    if c.kind == "SimpleRNN" and c.activation == "relu":
        args.append('nonlinearity="relu"')
    if not c.use_bias:
        args.append("bias=False")
    args.append("batch_first=True")
    if bidirectional:
        args.append("bidirectional=True")
    return f"{TORCH[c.kind]}({', '.join(args)})"


def _initial_state(call: LayerCall, n_states: int) -> list[Value] | None:
    state = call.kwargs.get("initial_state")
    args = call.kwargs.get("_args", ())
    if state is None and len(args) > 1:
        state = args[1]
    if state is None:
        return None
    state = list(state) if isinstance(state, list | tuple) else [state]
    if not all(isinstance(s, Value) for s in state):
        raise Decline("initial_state that is not a tensor of the graph")
    return state


def _mask_var(call: LayerCall, value: Value) -> str | None:
    mask = call.kwargs.get("mask")
    if isinstance(mask, Value):
        return mask.var
    if mask is not None and not isinstance(mask, Value):
        raise Decline("a mask argument that is not a tensor of the graph")
    return value.mask


def _run(
    call: LayerCall, ctx: Context, c: Cell, bidirectional: bool, zero_output: bool, go_backwards: bool
) -> tuple[Translation, str, str, Value]:
    """The module, its call line; returns the translation, the sequence var, the states var, the input."""
    lines, value = ctx.keras_layout(call.inputs[0])
    t = Translation(modules={}, lines=list(lines), outputs=[])
    mask = _mask_var(call, value)
    loop, why = _needs_loop(c, mask is not None)
    n_states = STATES[c.kind]
    if call.call_index == 0:
        input_size = int(value.shape[-1])
        t.modules[call.attr] = _constructor(c, ctx, input_size, bidirectional, loop, zero_output)
        if loop:
            t.helpers += ["keras_scan", LOOP[c.kind]]
            t.notes.append("stepped in Python: " + "; ".join(why))
    x = value.var
    if go_backwards:
        x_rev = ctx.var(f"{call.attr}_reversed")
        t.lines.append(f"{x_rev} = {x}.flip(1)  # go_backwards: Keras returns the outputs in reversed order")
        x = x_rev
        if mask is not None:
            m_rev = ctx.var(f"{call.attr}_mask_reversed")
            t.lines.append(f"{m_rev} = {mask}.flip(1)")
            mask = m_rev
    args = [x]
    initial = _initial_state(call, n_states)
    if initial is not None:
        if len(initial) != n_states * (2 if bidirectional else 1):
            raise Decline(f"{len(initial)} initial states")
        stacked = []
        for i in range(n_states):
            parts = [initial[i].var] + ([initial[n_states + i].var] if bidirectional else [])
            stacked.append(f"torch.stack([{', '.join(parts)}])")
        args.append(stacked[0] if n_states == 1 else f"({', '.join(stacked)})")
    if mask is not None:
        args.append(f"mask={mask}")
    seq, states = ctx.var(f"{call.attr}_seq"), ctx.var(f"{call.attr}_state")
    t.lines.append(f"{seq}, {states} = self.{call.attr}({', '.join(args)})")
    return t, seq, states, value


def translate_recurrent(call: LayerCall, ctx: Context) -> Translation:
    """LSTM / GRU / SimpleRNN (and ``RNN`` of their cells) as ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN``.

    Keras's LSTM gates (i, f, c, o) are torch's (i, f, g, o); Keras's GRU gates (z, r, h) are
    reordered to torch's (r, z, n), its reset_after bias pair (2, 3u) split into bias_ih/bias_hh;
    Keras has one bias where torch has two, so the second is a frozen zero. return_sequences,
    return_state, go_backwards (outputs stay in processing order, as Keras returns them) and
    initial_state map onto the module's call; masked inputs step in Python keeping the previous
    state (Keras masking), as do activations other than tanh/sigmoid and GRU reset_after=False.
    """
    c = _cell(call.layer)
    t, seq, states, _ = _run(
        call, ctx, c, False, bool(getattr(call.layer, "zero_output_for_mask", False)), bool(call.layer.go_backwards)
    )
    if call.call_index == 0:
        _weights(t, ctx, bool(call.layer.trainable), call.attr, "_l0", c)
    n_states = STATES[c.kind]
    state_names = [f"{states}[{i}][0]" for i in range(n_states)] if n_states > 1 else [f"{states}[0]"]
    out = ctx.var(call.attr)
    if call.layer.return_sequences:
        t.lines.append(f"{out} = {seq}")
    else:
        t.lines.append(f"{out} = {state_names[0]}  # the last output is the final hidden state")
    t.outputs.append(Value(out, call.output_shapes[0], call.output_dtypes[0]))
    if call.layer.return_state:
        for i, expr in enumerate(state_names):
            var = ctx.var(f"{call.attr}_{'hc'[i] if n_states > 1 else 'h'}")
            t.lines.append(f"{var} = {expr}")
            t.outputs.append(Value(var, call.output_shapes[i + 1], call.output_dtypes[i + 1]))
    return t


_SAME = ("units", "activation", "recurrent_activation", "use_bias", "reset_after", "dropout", "recurrent_dropout")


def translate_bidirectional(call: LayerCall, ctx: Context) -> Translation:
    """Bidirectional(LSTM/GRU/SimpleRNN) as one torch module with ``bidirectional=True``.

    torch's reverse direction reads the sequence backwards and returns its outputs in the forward
    time order, as Keras's Bidirectional does (its backward layer has go_backwards=True and the
    outputs are reversed back). Merge modes concat/sum/mul/ave/None are spelled on the two halves.
    With return_sequences Keras zeroes the outputs of masked steps (zero_output_for_mask).
    """
    layer = call.layer
    fwd, bwd = layer.forward_layer, layer.backward_layer
    c, cb = _cell(fwd), _cell(bwd)
    if c.kind != cb.kind or any(getattr(c, k) != getattr(cb, k) for k in _SAME if hasattr(c, k)):
        raise Decline("a backward layer configured unlike the forward one")
    if fwd.go_backwards or not bwd.go_backwards:
        raise Decline("a forward layer with go_backwards=True")
    zero_output = bool(fwd.return_sequences)
    t, seq, states, _ = _run(call, ctx, c, True, zero_output, False)
    if call.call_index == 0:
        trainable = bool(layer.trainable)
        _weights(t, ctx, trainable and fwd.trainable, call.attr, "_l0", c)
        _weights(t, ctx, trainable and bwd.trainable, call.attr, "_l0_reverse", cb)
    units = c.units
    n_states = STATES[c.kind]
    h = f"{states}[0]" if n_states > 1 else states
    if fwd.return_sequences:
        a, b = f"{seq}[..., :{units}]", f"{seq}[..., {units}:]"
        whole = seq
    else:
        a, b = f"{h}[0]", f"{h}[1]"
        whole = f"torch.cat([{a}, {b}], -1)"
    mode = layer.merge_mode
    exprs = {
        "concat": whole,
        "sum": f"{a} + {b}",
        "mul": f"{a} * {b}",
        "ave": f"({a} + {b}) / 2",
    }
    outputs: list[str] = []
    if mode is None:
        for part, expr in (("forward", a), ("backward", b)):
            var = ctx.var(f"{call.attr}_{part}")
            t.lines.append(f"{var} = {expr}")
            outputs.append(var)
    elif mode in exprs:
        var = ctx.var(call.attr)
        t.lines.append(f"{var} = {exprs[mode]}")
        outputs.append(var)
    else:
        raise Decline(f"merge_mode {mode!r}")
    if layer.return_state:
        for direction in (0, 1):
            for i in range(n_states):
                expr = f"{states}[{i}][{direction}]" if n_states > 1 else f"{states}[{direction}]"
                var = ctx.var(f"{call.attr}_{'fb'[direction]}{'hc'[i] if n_states > 1 else 'h'}")
                t.lines.append(f"{var} = {expr}")
                outputs.append(var)
    if len(outputs) != len(call.output_shapes):
        raise Decline(f"{len(outputs)} outputs where Keras has {len(call.output_shapes)}")
    for i, var in enumerate(outputs):
        t.outputs.append(Value(var, call.output_shapes[i], call.output_dtypes[i]))
    return t


def translate_masking(call: LayerCall, ctx: Context) -> Translation:
    """Masking: steps whose features all equal ``mask_value`` are zeroed and masked for what follows.

    Keras carries the mask beside the tensor; here it is a bool (N, T) variable handed to the
    consumers (recurrent layers, attention) through ``Value.mask``.
    """
    lines, value = ctx.keras_layout(call.inputs[0])
    mask_value = float(call.config.get("mask_value", 0.0))
    mask = ctx.var(f"{call.attr}_mask")
    out = ctx.var(call.attr)
    lines += [
        f"{mask} = ({value.var} != {mask_value!r}).any(dim=-1)",
        f"{out} = {value.var} * {mask}.unsqueeze(-1).to({value.var}.dtype)",
    ]
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], mask=mask)
    return Translation(modules={}, lines=lines, outputs=[result])


ENTRIES = (
    LayerEntry.of(("LSTM", "GRU", "SimpleRNN", "RNN"), translate_recurrent),
    LayerEntry.of(("Bidirectional",), translate_bidirectional),
    LayerEntry.of(("Masking",), translate_masking),
)
