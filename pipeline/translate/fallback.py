"""Layers no entry translates go through the ONNX route and come back as plain torch code.

TensorFlow side (:class:`OnnxFallback`, the walker's fallback): the layer call is exported on its
own input specs as a ``tf.function`` with tf2onnx (the pipeline's own export, trace fixups
included); ``forward()`` calls ``self.<layer>(...)`` in the Keras layout, and model.py gets a
placeholder for the layer's class. Torch side (:func:`complete`): each ONNX piece goes through the
graph fixups and the importer, is exported with ``torch.export``, and its ATen graph code becomes
a small ``nn.Module`` class in model.py whose float weights are ``nn.Parameter`` s named under the
layer's attribute (so it trains), stored in the same state dict.

A source with no Keras layer graph gets its whole program written the same way
(:func:`program_class`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pipeline.context import TensorSpec
from pipeline.translate.base import RESERVED, Context, LayerCall, Translation, Value
from pipeline.translate.codegen import MARKER, class_name


class OnnxFallback:
    """The walker's fallback: export the call to ONNX now, emit a call of its module."""

    def __init__(self, work_dir: Path, opset: int) -> None:
        self.work_dir = Path(work_dir)
        self.opset = opset
        self.pending: list[dict[str, Any]] = []

    def __call__(self, call: LayerCall, ctx: Context, reason: str) -> Translation:
        lines: list[str] = []
        args: list[Value] = []
        for value in call.inputs:
            more, moved = ctx.keras_layout(value)
            lines += more
            args.append(moved)
        outs = [ctx.var(call.attr) for _ in call.output_shapes]
        target = outs[0] if len(outs) == 1 else ", ".join(outs)
        lines.append(f"{target} = self.{call.attr}({', '.join(v.var for v in args)})  # through ONNX: {reason}")
        outputs = [
            Value(var, shape, dtype)
            for var, shape, dtype in zip(outs, call.output_shapes, call.output_dtypes, strict=True)
        ]
        t = Translation(modules={}, lines=lines, outputs=outputs, helpers=[f"fallback:{call.attr}"])
        if call.call_index == 0:
            cls = class_name(call.attr) + "Graph"
            t.modules[call.attr] = f"{cls}()"
            path = self._export(call, args)
            self._save_weights(call, ctx)
            self.pending.append(
                {
                    "attr": call.attr,
                    "class": cls,
                    "layer": str(call.layer.name),
                    "onnx": str(path),
                    "inputs": [_spec(f"input_{i}", v) for i, v in enumerate(args)],
                    "outputs": [f"output_{i}" for i in range(len(outs))],
                    "reason": reason,
                }
            )
        return t

    def _save_weights(self, call: LayerCall, ctx: Context) -> None:
        """The layer's Keras weights, so the torch side can name the program's tensors after them."""
        import numpy as np

        arrays, paths = {}, {}
        for variable in getattr(call.layer, "weights", []):
            path = ctx.path(variable)
            key = re.sub(r"\W", "_", path.rsplit("/", 1)[-1].split(":")[0]) or "weight"
            while key in arrays:
                key += "_"
            arrays[key] = ctx.array(variable)
            paths[key] = path
        self.work_dir.mkdir(parents=True, exist_ok=True)
        np.savez(self.work_dir / f"{call.attr}_weights.npz", **arrays)
        (self.work_dir / f"{call.attr}_weights.json").write_text(json.dumps(paths), encoding="utf-8")

    def _export(self, call: LayerCall, args: list[Value]) -> Path:
        import tensorflow as tf

        from pipeline.stages.export import export_onnx
        from pipeline.stages.load import LoadedModel

        layer = call.layer
        positional = call.kwargs.get("_args", ())
        as_list = len(positional) == 1 and isinstance(positional[0], list | tuple)
        extra = {k: v for k, v in call.kwargs.items() if k != "_args" and not isinstance(v, Value | list | tuple)}
        if "training" in getattr(layer.call, "__code__", type("", (), {"co_varnames": ()})).co_varnames:
            extra["training"] = False
        specs = [TensorSpec(**_spec(f"input_{i}", v)) for i, v in enumerate(args)]

        def run(*xs: Any) -> list[Any]:
            result = layer(list(xs), **extra) if as_list else layer(*xs, **extra)
            return list(result) if isinstance(result, list | tuple) else [result]

        signature = [tf.TensorSpec([None if i == 0 else d for i, d in enumerate(s.shape)], s.dtype) for s in specs]
        function = tf.function(run, input_signature=signature, autograph=False)
        names = [f"output_{i}" for i in range(len(call.output_shapes))]
        loaded = LoadedModel(name=call.attr, function=function, inputs=specs, outputs=names)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        path = self.work_dir / f"{call.attr}.onnx"
        export_onnx(loaded, self.opset, path, external_data_mb=-1)
        return path


def _spec(name: str, value: Value) -> dict[str, Any]:
    return {"name": name, "shape": list(value.shape), "dtype": value.dtype, "batch_axis": 0}


# --------------------------------------------------------------------------- torch side


def program_class(
    program: Any, cls: str, prefix: str, doc: str, single: bool = True, known: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any], list[str]]:
    """A ``nn.Module`` class running ``program``'s ATen graph, its state dict (keys under ``prefix``)
    and the keys that are buffers. Float parameters and constants become ``nn.Parameter`` s."""
    import torch

    gm = program.graph_module
    sig = program.graph_signature
    _drop_dtype_asserts(gm)
    branches = _branch_methods(gm)
    code = gm.code
    header, _, body = code.partition("):\n")
    params = [a for a in header.split("(", 1)[1].split(",") if a.strip() and a.strip() != "self"]
    params = [p.strip().split(":")[0].strip() for p in params]
    kinds: dict[str, tuple[str, Any]] = {}
    targets = {}
    for spec in sig.input_specs:
        if spec.target is not None:
            targets[spec.arg.name] = (str(spec.kind), spec.target)
    state: dict[str, Any] = {}
    buffers: list[str] = []
    init: list[str] = []
    args: list[str] = []
    user: list[str] = []
    for index, name in enumerate(params):
        if name not in targets:
            user.append(name)
            args.append(name)
            continue
        kind, target = targets[name]
        tensor = program.state_dict.get(target)
        if tensor is None:
            tensor = program.constants[target]
        matched = _known_name(tensor, known or {}, set(kinds))
        attr = matched or _clean(target, set(kinds), index)
        kinds[attr] = (name, tensor)
        shape = ", ".join(str(int(d)) for d in tensor.shape) + ("," if tensor.dim() == 1 else "")
        empty = f"torch.empty(({shape}), dtype=torch.{str(tensor.dtype).split('.')[-1]})"
        # A Keras layer's fallback: only its Keras weights train; other tensors are the graph's constants
        constant = known is not None and matched is None
        if tensor.is_floating_point() and "BUFFER" not in kind and not constant:
            init.append(f"        self.{attr} = nn.Parameter({empty})")
        else:
            init.append(f'        self.register_buffer("{attr}", {empty})')
            buffers.append(f"{prefix}{attr}")
        state[f"{prefix}{attr}"] = tensor.detach().to("cpu").contiguous().clone()
        args.append(f"self.{attr}")
    renamed = {name: f"w_{attr}" for attr, (name, _) in kinds.items()}
    if renamed:
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, renamed)) + r")\b")
        body = pattern.sub(lambda m: renamed[m.group(1)], body)
    body = _plain_literals(body)
    graph_args = ", ".join(renamed.get(p, p) for p in params)
    lines = [
        f"class {cls}(nn.Module):",
        f'    """{doc}"""',
        "",
        "    def __init__(self):",
        "        super().__init__()",
        *init,
        "",
        f"    def forward(self, {', '.join(user)}):",
        f"        return self.graph({', '.join(args)}){'[0]' if single else ''}",
        "",
        f"    def graph(self, {graph_args}):",
        *["    " + line if line.strip() else line for line in body.rstrip().splitlines()],
        *branches,
    ]
    del torch
    return "\n".join(lines), state, buffers


class CannotEmit(Exception):
    """A program whose graph code cannot be written as a plain ``nn.Module`` class."""


def _branch_methods(gm: Any) -> list[str]:
    """Static methods for the branch graphs of ``torch.cond`` (a ``tf.cond`` in the layer): the graph code
    reads them as ``self.true_graph_0`` etc. and passes them to ``torch.ops.higher_order.cond``,
    which takes any callable. A branch holding graphs or modules of its own is not written."""
    import torch

    lines: list[str] = []
    for name, child in gm.named_children():
        if not isinstance(child, torch.fx.GraphModule):
            raise CannotEmit(f"the graph calls a module ({type(child).__name__} '{name}')")
        if any(True for _ in child.named_children()):
            raise CannotEmit(f"the graph's branch '{name}' holds graphs of its own (nested conditionals or loops)")
        if any(node.op == "get_attr" for node in child.graph.nodes):
            raise CannotEmit(f"the graph's branch '{name}' reads tensors of its own")
        _drop_dtype_asserts(child)
        header, _, body = child.code.partition("):\n")
        params = [p.strip() for p in header.split("(", 1)[1].split(",") if p.strip() and p.strip() != "self"]
        # static: torch traces a branch with exactly its operands (a bound method's self counts as one more)
        lines += ["", "    @staticmethod", f"    def {name}({', '.join(params)}):"]
        lines += ["    " + line if line.strip() else line for line in _plain_literals(body).rstrip().splitlines()]
    return lines


def _drop_dtype_asserts(gm: Any) -> None:
    """Remove ``aten._assert_tensor_metadata`` nodes: they pin each checked tensor to the dtype of
    the export (float32), so the class would refuse to run after ``.double()`` (the training
    check's float64 replay) although nothing else in the graph depends on the dtype."""
    import torch

    target = getattr(torch.ops.aten, "_assert_tensor_metadata", None)
    if target is None:
        return
    dropped = False
    for node in list(gm.graph.nodes):
        if node.op == "call_function" and node.target in (target, target.default) and not node.users:
            gm.graph.erase_node(node)
            dropped = True
    if dropped:
        gm.recompile()


# Names that fx's generated code takes from its own globals; model.py has only torch's.
_FX_GLOBALS = (
    (re.compile(r"(?<![\w.'\"])inf\b"), 'float("inf")'),
    (re.compile(r"(?<![\w.'\"])nan\b"), 'float("nan")'),
    (re.compile(r"(?<![\w.])device\("), "torch.device("),
)


def _plain_literals(body: str) -> str:
    """fx code writes ``inf``, ``nan`` and ``device(...)`` bare (its globals define them); spell them
    out so the class runs in a module that imports only torch."""
    for pattern, text in _FX_GLOBALS:
        body = pattern.sub(text, body)
    return body


def _clean(target: str, taken: set[str], index: int) -> str:
    """A readable attribute name from a program's weight name (ONNX scopes, onnx2torch modules)."""
    text = re.sub(r"(?i)statefulpartitionedcall|readvariableop|initializers|onnx_initializer", "", target)
    text = re.sub(r"\W+", "_", text)
    text = re.sub(r"_+", "_", text).strip("_").lower()[-48:].strip("_")
    name = text if text and text[0].isalpha() else f"w{index}_{text}".rstrip("_")
    while name in taken or name in RESERVED:
        name += "_"
    return name


def _known_name(tensor: Any, known: dict[str, Any], taken: set[str]) -> str | None:
    """The Keras weight name whose value ``tensor`` holds (same numbers, in Keras's layout or with
    its axes permuted, as the ONNX route stores a convolution kernel), if any."""
    import numpy as np

    from pipeline.training.compare import value_map

    values = tensor.detach().cpu().numpy()
    for name, array in known.items():
        attr = name if name not in RESERVED else f"{name}_"
        if attr not in taken and value_map(np.asarray(array), values) is not None:
            return attr
    return None


def complete(model_py: Path, weights: Path, pending: list[dict[str, Any]], work_dir: Path) -> dict[str, Any]:
    """Torch side: turn each pending ONNX piece into its class in model.py and add its weights."""
    import numpy as np
    import torch
    from safetensors.numpy import load_file, save_file

    from pipeline import onnx_utils
    from pipeline.fixups import DEFAULT_FIXUPS, FixupContext, run_fixups
    from pipeline.stages.importer import import_model
    from pipeline.stages.torch_export import export_program

    source = model_py.read_text(encoding="utf-8")
    state = dict(load_file(str(weights))) if weights.is_file() else {}
    records = {}
    for piece in pending:
        specs = [TensorSpec(**s) for s in piece["inputs"]]
        model = onnx_utils.load(piece["onnx"], stage="import")
        fixed, _ = run_fixups(model, DEFAULT_FIXUPS, FixupContext(inputs=specs, layers=[], model_dir=work_dir))
        imported = import_model(fixed, None, model_dir=work_dir)
        example = [_example(s) for s in specs]
        program, _, _ = export_program(imported.module, example, specs, {})
        program = program.run_decompositions({}) if hasattr(program, "run_decompositions") else program
        doc = f"Keras layer '{piece['layer']}' through the ONNX route (TensorFlow -> ONNX -> torch.export)."
        single = len(piece["outputs"]) == 1
        stem = Path(piece["onnx"]).with_suffix("")
        known: dict[str, Any] = {}
        paths: dict[str, str] = {}
        if Path(f"{stem}_weights.npz").is_file():
            with np.load(f"{stem}_weights.npz") as data:
                known = {k: data[k] for k in data.files}
            paths = json.loads(Path(f"{stem}_weights.json").read_text(encoding="utf-8"))
        try:
            text, tensors, buffers = program_class(program, piece["class"], f"{piece['attr']}.", doc, single, known)
        except CannotEmit as exc:  # model.py is withdrawn with this reason; the ONNX route's model.pt2 stays
            raise CannotEmit(f"Keras layer '{piece['layer']}': {exc}") from exc
        source = source.replace(MARKER + piece["attr"], text, 1)
        for key, tensor in tensors.items():
            state[key] = tensor.numpy()
        weight_map = {k: paths[k.split(".", 1)[1]] for k in tensors if k.split(".", 1)[1] in paths}
        records[piece["attr"]] = {"parameters": sorted(tensors), "buffers": buffers, "weight_map": weight_map}
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(weights))
    model_py.write_text(with_graph_names(source), encoding="utf-8")
    del torch
    return records


def _example(spec: TensorSpec) -> Any:
    import numpy as np
    import torch

    shape = [2 if d is None else d for d in spec.shape]
    rng = np.random.default_rng(0)
    if spec.dtype.startswith("float"):
        return torch.from_numpy(rng.uniform(-1, 1, shape).astype(spec.dtype))
    return torch.from_numpy(rng.integers(0, 2, shape).astype(spec.dtype))


def with_graph_names(source: str) -> str:
    """``source`` with the names ATen graph code uses beyond ``torch`` imported (``device``, ``inf``)."""
    extra = []
    if re.search(r"(?<![\w.])device\(", source) and "from torch import device" not in source:
        extra.append("from torch import device  # the graph code's device literals")
    for name in ("inf", "nan"):
        if re.search(rf"(?<![\w.'\"]){name}(?![\w'\"])", source) and f"from math import {name}" not in source:
            extra.append(f"from math import {name}  # the graph code's float literals")
    if not extra:
        return source
    return source.replace("from torch import nn\n", "from torch import nn\n" + "\n".join(extra) + "\n", 1)
