"""The contract between the direct translator and its layer entries.

An entry gets one :class:`LayerCall` (one call of a Keras layer in the graph) and a
:class:`Context` (per-model state: fresh variable names, layout moves, variable values) and
returns a :class:`Translation`: torch modules to create, ``forward()`` lines, output values,
weights in torch layout and where each came from in Keras. An entry that cannot translate a
configuration raises :class:`Decline` with the reason; the layer then goes through the ONNX
fallback. Entries live one file per Keras layer family in ``pipeline/translate/layers/`` and are
registered in ``pipeline/translate/__init__.py`` (``LAYERS``).

Layout rule: tensors of rank >= 3 made by spatial layers are held channels-first inside
``forward()`` (``Value.channels_first``). Element-wise entries keep the layout of their inputs; an
entry that needs the Keras layout calls ``ctx.keras_layout(value)``; spatial entries call
``ctx.channels_first(value)``. Both add a permute line only when needed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.registry import Doc

Shape = tuple[int | None, ...]


@dataclass
class Value:
    """One tensor of the generated forward()."""

    var: str  # Python variable name in forward()
    shape: Shape  # Keras shape, batch axis None
    dtype: str  # "float32", "int32", "bool", ...
    channels_first: bool = False  # held as (N, C, *spatial) while Keras has (N, *spatial, C)
    mask: str | None = None  # variable holding the Keras mask (bool (N, T)) or None
    flat_from: Shape | None = None  # a Flatten of a channels-first map: its Keras shape (no batch)
    # (the flattened order is C, *spatial; Dense permutes its kernel rows to match)

    @property
    def rank(self) -> int:
        return len(self.shape)

    def torch_shape(self) -> Shape:
        """The shape as held in forward() (channels moved to axis 1 when channels-first)."""
        if self.channels_first and len(self.shape) >= 3:
            return (self.shape[0], self.shape[-1], *self.shape[1:-1])
        return self.shape


@dataclass
class LayerCall:
    """One call of a Keras layer in the graph (a shared layer is called several times)."""

    layer: Any  # the Keras layer object (Keras 3 or tf_keras)
    attr: str  # module attribute name (identifier from layer.name)
    inputs: list[Value]
    output_shapes: list[Shape]
    output_dtypes: list[str]
    call_index: int = 0  # > 0: a shared layer called again (modules already made)
    kwargs: dict[str, Any] = field(default_factory=dict)  # call arguments (training, mask, ...)

    @property
    def config(self) -> dict[str, Any]:
        """The layer's Keras config (``layer.get_config()``)."""
        return self.layer.get_config()

    @property
    def class_name(self) -> str:
        return type(self.layer).__name__


@dataclass
class Translation:
    """What an entry returns for one LayerCall."""

    modules: dict[str, str]  # attribute -> constructor source ("nn.Conv2d(3, 32, ...)");
    # empty for functional calls; ignored when call_index > 0
    lines: list[str]  # forward() source lines, e.g. "x3 = self.conv1(x2)"
    outputs: list[Value]
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # state-dict key -> torch layout
    weight_map: dict[str, str] = field(default_factory=dict)  # state-dict key -> Keras variable path
    buffers: set[str] = field(default_factory=set)  # keys that are non-trainable (buffers or
    # requires_grad=False parameters)
    init_lines: list[str] = field(default_factory=list)  # reset_parameters() lines reproducing
    # the Keras initialisers: "nn.init.xavier_uniform_(self.conv1.weight)"
    helpers: list[str] = field(default_factory=list)  # names of module-level helper definitions
    # (classes/functions) it needs, from translate/helpers.py
    notes: list[str] = field(default_factory=list)  # differences worth a code comment / report line


class Decline(Exception):
    """Raised by an entry that cannot translate this configuration.

    The message is the reason (shown in the report's Translation table); the layer then goes
    through the ONNX fallback.
    """


_PERMUTE_TO_FIRST = {3: "(0, 2, 1)", 4: "(0, 3, 1, 2)", 5: "(0, 4, 1, 2, 3)"}
_PERMUTE_TO_LAST = {3: "(0, 2, 1)", 4: "(0, 2, 3, 1)", 5: "(0, 2, 3, 4, 1)"}


# nn.Module's own attributes: a submodule or parameter of one of these names would be shadowed
RESERVED = frozenset(
    [
        "forward",
        "load",
        "reset_parameters",
        "graph",
        "training",
        "double",
        "float",
        "half",
        "bfloat16",
        "cuda",
        "cpu",
        "xpu",
        "ipu",
        "mtia",
        "to",
        "to_empty",
        "train",
        "eval",
        "apply",
        "type",
        "parameters",
        "buffers",
        "children",
        "modules",
        "state_dict",
        "load_state_dict",
        "named_parameters",
        "named_buffers",
        "named_children",
        "named_modules",
        "register_buffer",
        "register_parameter",
        "register_module",
        "add_module",
        "zero_grad",
        "requires_grad_",
        "extra_repr",
        "get_submodule",
        "get_parameter",
        "get_buffer",
        "share_memory",
        "compile",
        "dump_patches",
        "call_super_init",
        "set_extra_state",
        "get_extra_state",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_backward_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_state_dict_pre_hook",
    ]
)


def identifier(name: str) -> str:
    """A Python identifier from a Keras layer name (``conv2d_1``, ``block1/conv`` -> ``block1_conv``)."""
    text = re.sub(r"\W", "_", name)
    if not text or text[0].isdigit():
        text = "l_" + text
    return text


class Context:
    """Per-model state handed to every entry."""

    def __init__(self, layout: str = "keras", keras_version: int = 3) -> None:
        self.layout = layout  # config: "keras" (default) | "channels_first"
        self.keras_version = keras_version
        self._names: set[str] = {"self", "torch", "nn", "F", "x", "y", "z"}
        self._counter: dict[str, int] = {}

    def var(self, hint: str) -> str:
        """A fresh forward() variable name built from ``hint``."""
        base = identifier(hint).lower() or "x"
        name = base
        while name in self._names:
            count = self._counter.get(base, 0) + 1
            self._counter[base] = count
            name = f"{base}_{count}"
        self._names.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Mark ``name`` as taken (forward() arguments)."""
        self._names.add(name)

    def keras_layout(self, value: Value) -> tuple[list[str], Value]:
        """Lines that bring ``value`` to the Keras layout (none when it already is), and the new value."""
        if value.flat_from is not None:
            spatial = value.flat_from
            var = self.var(value.var + "_hwc")
            cf = (spatial[-1], *spatial[:-1])
            line = (
                f"{var} = {value.var}.reshape(-1, {', '.join(map(str, cf))})"
                f".permute{_last(len(spatial) + 1)}.flatten(1)  # flatten in Keras (channels-last) order"
            )
            return [line], Value(var, value.shape, value.dtype, False, value.mask)
        if not value.channels_first or value.rank < 3:
            return [], Value(value.var, value.shape, value.dtype, False, value.mask)
        var = self.var(value.var.split("_cf")[0] + "_nhwc")
        perm = _PERMUTE_TO_LAST[value.rank] if value.rank in _PERMUTE_TO_LAST else _last(value.rank)
        line = f"{var} = {value.var}.permute{perm}  # to Keras's channels-last layout"
        return [line], Value(var, value.shape, value.dtype, False, value.mask)

    def channels_first(self, value: Value) -> tuple[list[str], Value]:
        """Lines that bring ``value`` channels-first (none when it already is), and the new value."""
        if value.channels_first or value.rank < 3:
            return [], Value(value.var, value.shape, value.dtype, value.rank >= 3, value.mask)
        var = self.var(value.var + "_cf")
        perm = _PERMUTE_TO_FIRST[value.rank] if value.rank in _PERMUTE_TO_FIRST else _first(value.rank)
        line = f"{var} = {value.var}.permute{perm}  # channels-last (Keras) to channels-first (torch)"
        return [line], Value(var, value.shape, value.dtype, True, value.mask)

    def same_layout(self, values: list[Value]) -> tuple[list[str], list[Value]]:
        """Lines that bring ``values`` to one layout (channels-first when all are of rank >= 3 and
        one already is; else the Keras layout), and the new values."""
        lines: list[str] = []
        out: list[Value] = []
        first = any(v.channels_first for v in values) and all(v.rank >= 3 for v in values)
        first = first and len({v.rank for v in values}) == 1
        for value in values:
            more, moved = self.channels_first(value) if first else self.keras_layout(value)
            lines += more
            out.append(moved)
        return lines, out

    def axis(self, value: Value, axis: int) -> int:
        """The torch axis of Keras axis ``axis`` for ``value`` as held in forward()."""
        rank = value.rank
        axis = axis % rank
        if not value.channels_first or rank < 3 or axis == 0:
            return axis
        return 1 if axis == rank - 1 else axis + 1

    def array(self, variable: Any) -> np.ndarray:
        """A Keras variable's value as a numpy array."""
        return np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)

    def path(self, variable: Any) -> str:
        """A Keras variable's path (``conv1/kernel``), for ``Translation.weight_map``."""
        path = getattr(variable, "path", None)
        if path:
            return str(path)
        name = str(getattr(variable, "name", variable))
        return name[:-2] if name.endswith(":0") else name


def _first(rank: int) -> str:
    return str((0, rank - 1, *range(1, rank - 1)))


def _last(rank: int) -> str:
    return str((0, *range(2, rank), 1))


@dataclass(frozen=True)
class LayerEntry:
    """One registered translation: the Keras classes it handles and the function that does it."""

    classes: tuple[str, ...]  # Keras class names handled ("Conv1D", "Conv2D", ...)
    translate: Callable[[LayerCall, Context], Translation]
    doc: Doc  # Doc.of(translate): what it handles / which Keras-torch difference it bridges

    @classmethod
    def of(cls, classes: tuple[str, ...], translate: Callable[[LayerCall, Context], Translation]) -> LayerEntry:
        """An entry whose documentation is ``translate``'s docstring."""
        return cls(classes=classes, translate=translate, doc=Doc.of(translate))
