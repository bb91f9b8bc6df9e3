"""Keras ops that appear as nodes of functional graphs: Keras 3 ``keras.ops.*`` calls
(``ops.<Class>``) and tf_keras ``TFOpLambda`` / ``SlicingOpLambda`` (``tf.math.add``,
``tf.reshape``, ``x[:, 0]``): arithmetic, comparisons, matmul/einsum, transpose/reshape,
concat/stack, reductions, softmax, unary math, slicing. The rest declines with the op's name.

Keras 3 records mask computations as ops too (Embedding's ``not_equal``, Masking's ``any``), so
these entries also carry masks to recurrent layers. ``ops.Add``/``ops.Subtract``/``ops.Multiply``
are translated by the merge family.
"""

from __future__ import annotations

from typing import Any

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value

UNARY = {
    "Negative": "-{0}",
    "Absolute": "torch.abs({0})",
    "Abs": "torch.abs({0})",
    "Square": "torch.square({0})",
    "Sqrt": "torch.sqrt({0})",
    "Rsqrt": "torch.rsqrt({0})",
    "Exp": "torch.exp({0})",
    "Log": "torch.log({0})",
    "Tanh": "torch.tanh({0})",
    "Sigmoid": "torch.sigmoid({0})",
    "Relu": "F.relu({0})",
    "Silu": "F.silu({0})",
    "Erf": "torch.erf({0})",
    "Floor": "torch.floor({0})",
    "Ceil": "torch.ceil({0})",
    "Sign": "torch.sign({0})",
    "Sin": "torch.sin({0})",
    "Cos": "torch.cos({0})",
    "LogicalNot": "torch.logical_not({0})",
    "Reciprocal": "torch.reciprocal({0})",
}
BINARY = {
    "Divide": "{0} / {1}",
    "TrueDivide": "{0} / {1}",
    "Power": "{0} ** {1}",
    "FloorDivide": "{0} // {1}",
    "Mod": "{0} % {1}",  # numpy's mod takes the divisor's sign, as torch.remainder does
    "Equal": "{0} == {1}",
    "NotEqual": "{0} != {1}",
    "Greater": "{0} > {1}",
    "GreaterEqual": "{0} >= {1}",
    "Less": "{0} < {1}",
    "LessEqual": "{0} <= {1}",
    "LogicalAnd": "torch.logical_and({0}, {1})",
    "LogicalOr": "torch.logical_or({0}, {1})",
    "Add": "{0} + {1}",
    "Subtract": "{0} - {1}",
    "Multiply": "{0} * {1}",
}
REDUCE = {"Mean": "mean", "Sum": "sum", "Max": "amax", "Min": "amin", "Any": "any", "All": "all"}
TORCH_DTYPES = {
    "float16": "torch.float16",
    "bfloat16": "torch.bfloat16",
    "float32": "torch.float32",
    "float64": "torch.float64",
    "int8": "torch.int8",
    "uint8": "torch.uint8",
    "int16": "torch.int16",
    "int32": "torch.int32",
    "int64": "torch.int64",
    "bool": "torch.bool",
}


def _lit(arg: Any) -> str:
    """A Python literal argument as source (numbers, tuples, None)."""
    if isinstance(arg, Value):
        return arg.var
    if hasattr(arg, "numpy") or type(arg).__module__.startswith("numpy"):
        import numpy as np

        array = np.asarray(arg)
        if array.ndim == 0:
            return repr(array.item())
        raise Decline("a constant tensor argument")
    if isinstance(arg, list | tuple):
        inner = ", ".join(_lit(a) for a in arg)
        return f"({inner},)" if isinstance(arg, tuple) and len(arg) == 1 else f"({inner})"
    if isinstance(arg, bool | int | float | str) or arg is None:
        return repr(arg)
    raise Decline(f"an argument of type {type(arg).__name__}")


def _dims(axis: Any, rank: int) -> str:
    if isinstance(axis, list | tuple):
        return "(" + ", ".join(str(int(a)) for a in axis) + ("," if len(axis) == 1 else "") + ")"
    return str(int(axis)) if axis is not None else "(" + ", ".join(map(str, range(rank))) + ")"


def _slice(key: Any) -> str:
    """Python subscript source for a getitem key (slices, ints, Ellipsis, None)."""
    parts = key if isinstance(key, tuple) else (key,)
    out = []
    for part in parts:
        if isinstance(part, dict) and {"start", "stop", "step"} >= set(part):  # tf_keras serialises slices
            part = slice(part.get("start"), part.get("stop"), part.get("step"))
        if part is Ellipsis:
            out.append("...")
        elif part is None:
            out.append("None")
        elif isinstance(part, slice):
            if part.step is not None and int(part.step) < 0:
                raise Decline("a slice with a negative step")
            for bound in (part.start, part.stop, part.step):
                if bound is not None and not isinstance(bound, int):
                    raise Decline("a slice bound that is a tensor")
            text = f"{'' if part.start is None else part.start}:{'' if part.stop is None else part.stop}"
            out.append(text + (f":{part.step}" if part.step is not None else ""))
        elif isinstance(part, int):
            out.append(str(part))
        else:
            raise Decline(f"an index of type {type(part).__name__}")
    return ", ".join(out)


def _expr(kind: str, args: list[Any], attrs: dict[str, Any], rank: int) -> str:
    """The torch expression of op ``kind`` on ``args`` (Values / literals) with Keras attributes."""
    if kind == "GetItem":
        return f"{_lit(args[0])}[{_slice(args[1])}]"
    x = [_lit(a) for a in args]
    if kind in UNARY:
        return UNARY[kind].format(*x)
    if kind in BINARY:
        return BINARY[kind].format(*x)
    if kind in ("Maximum", "Minimum"):
        fn = "torch.maximum" if kind == "Maximum" else "torch.minimum"
        if not isinstance(args[1], Value):
            return f"torch.clamp({x[0]}, {'min' if kind == 'Maximum' else 'max'}={x[1]})"
        if not isinstance(args[0], Value):
            return f"torch.clamp({x[1]}, {'min' if kind == 'Maximum' else 'max'}={x[0]})"
        return f"{fn}({x[0]}, {x[1]})"
    if kind == "Matmul":
        return f"torch.matmul({x[0]}, {x[1]})"
    if kind == "Einsum":
        return f"torch.einsum({attrs['subscripts']!r}, {', '.join(x)})"
    if kind == "Transpose":
        axes = attrs.get("axes")
        axes = tuple(reversed(range(rank))) if axes is None else tuple(int(a) for a in axes)
        return f"{x[0]}.permute{axes}"
    if kind == "Swapaxes":
        return f"{x[0]}.transpose({int(attrs['axis1'])}, {int(attrs['axis2'])})"
    if kind == "Reshape":
        shape = tuple(-1 if d is None else int(d) for d in attrs["newshape"])
        return f"{x[0]}.reshape{shape if len(shape) > 1 else f'({shape[0]},)'}"
    if kind in ("Concatenate", "Stack"):
        fn = "torch.cat" if kind == "Concatenate" else "torch.stack"
        return f"{fn}([{', '.join(_lit(a) for a in args[0])}], dim={int(attrs.get('axis', 0))})"
    if kind in REDUCE:
        keep = bool(attrs.get("keepdims", False))
        return f"{x[0]}.{REDUCE[kind]}(dim={_dims(attrs.get('axis'), rank)}, keepdim={keep})"
    if kind in ("Var", "Std"):
        keep = bool(attrs.get("keepdims", False))
        fn = kind.lower()
        return f"torch.{fn}({x[0]}, dim={_dims(attrs.get('axis'), rank)}, correction=0, keepdim={keep})"
    if kind in ("Softmax", "LogSoftmax"):
        fn = "torch.softmax" if kind == "Softmax" else "torch.log_softmax"
        axis = attrs.get("axis", -1)
        if isinstance(axis, list | tuple):
            raise Decline("softmax over several axes")
        return f"{fn}({x[0]}, dim={-1 if axis is None else int(axis)})"
    if kind == "Gelu":
        return f"F.gelu({x[0]}, approximate={'tanh' if attrs.get('approximate', True) else 'none'!r})"
    if kind == "ExpandDims":
        axis = attrs["axis"]
        if isinstance(axis, list | tuple):
            raise Decline("expand_dims over several axes")
        return f"{x[0]}.unsqueeze({int(axis)})"
    if kind == "Squeeze":
        axis = attrs.get("axis")
        return f"{x[0]}.squeeze()" if axis is None else f"{x[0]}.squeeze({_dims(axis, rank)})"
    if kind == "Cast":
        dtype = str(getattr(attrs["dtype"], "name", attrs["dtype"]))
        if dtype not in TORCH_DTYPES:
            raise Decline(f"cast to {dtype}")
        return f"{x[0]}.to({TORCH_DTYPES[dtype]})"
    if kind == "Clip":
        return f"torch.clamp({x[0]}, {_lit(attrs['x_min'])}, {_lit(attrs['x_max'])})"
    if kind == "Where":
        if len(args) != 3:
            raise Decline("where with one argument")
        return f"torch.where({x[0]}, {x[1]}, {x[2]})"
    if kind == "Flip":
        axis = attrs.get("axis")
        dims = _dims(axis, rank) if isinstance(axis, list | tuple) or axis is None else f"({int(axis)},)"
        return f"torch.flip({x[0]}, dims={dims})"
    if kind == "Cumsum":
        if attrs.get("axis") is None:
            raise Decline("cumsum over the flattened tensor")
        return f"torch.cumsum({x[0]}, dim={int(attrs['axis'])})"
    if kind == "Argmax" or kind == "Argmin":
        if attrs.get("axis") is None:
            raise Decline(f"{kind.lower()} over the flattened tensor")
        fn = kind.lower()
        return f"torch.{fn}({x[0]}, dim={int(attrs['axis'])}, keepdim={bool(attrs.get('keepdims', False))}).int()"
    if kind == "Repeat" and attrs.get("axis") is not None and isinstance(attrs.get("repeats"), int):
        return f"torch.repeat_interleave({x[0]}, {int(attrs['repeats'])}, dim={int(attrs['axis'])})"
    if kind == "Tile" and len(attrs.get("repeats", ())) == rank:
        return f"{x[0]}.repeat{tuple(int(r) for r in attrs['repeats'])}"
    if kind == "Norm" and attrs.get("ord") in (None, 2):
        axis = attrs.get("axis")
        if isinstance(axis, list | tuple) and len(axis) != 1:
            raise Decline("a matrix norm")
        keep = bool(attrs.get("keepdims", False))
        return f"torch.linalg.vector_norm({x[0]}, dim={_dims(axis, rank)}, keepdim={keep})"
    raise Decline(f"op {kind} has no translation")


ELEMENTWISE = set(UNARY) | set(BINARY) | {"Maximum", "Minimum", "Clip", "Where", "Cast"}


def _layout(call: LayerCall, ctx: Context, kind: str, args: list[Any]) -> tuple[list[str], list[Any], bool]:
    """Bring the tensor arguments to one layout: their own for element-wise ops of equal rank,
    else Keras's; returns lines, the arguments, and whether the result is channels-first."""
    tensors: list[Value] = []

    def collect(a: Any) -> None:
        if isinstance(a, Value):
            tensors.append(a)
        elif isinstance(a, list | tuple):
            for b in a:
                collect(b)

    collect(args)
    if kind in ELEMENTWISE and len({t.rank for t in tensors}) == 1:
        lines, moved = ctx.same_layout(tensors)
    else:
        lines, moved = [], []
        for t in tensors:
            more, m = ctx.keras_layout(t)
            lines += more
            moved.append(m)
    swap = {id(a): b for a, b in zip(tensors, moved, strict=True)}

    def replace(a: Any) -> Any:
        if isinstance(a, Value):
            return swap[id(a)]
        if isinstance(a, list | tuple):
            return type(a)(replace(b) for b in a)
        return a

    first = bool(moved) and moved[0].channels_first
    return lines, [replace(a) for a in args], first


def _emit(call: LayerCall, ctx: Context, kind: str, args: list[Any], attrs: dict[str, Any]) -> Translation:
    lines, args, first = _layout(call, ctx, kind, args)
    tensors = [a for a in args if isinstance(a, Value)]
    rank = tensors[0].rank if tensors else 0
    if first and kind not in ELEMENTWISE:
        raise Decline(f"op {kind} on a channels-first tensor")
    expr = _expr(kind, args, attrs, rank)
    out = ctx.var(call.attr)
    mask = tensors[0].mask if tensors and kind in ELEMENTWISE else None
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], first and len(call.output_shapes[0]) >= 3, mask)
    return Translation(modules={}, lines=[*lines, f"{out} = {expr}"], outputs=[result])


def translate_keras_op(call: LayerCall, ctx: Context) -> Translation:
    """A Keras 3 ``keras.ops`` node (``ops.Matmul``, ``ops.GetItem``, ``ops.NotEqual`` ...) as
    the torch expression, one line.

    Keras 3 keeps an op's static arguments on the op object (``axis``, ``keepdims``, ``newshape``)
    and its tensors in the node; numpy semantics map onto torch's (``mod`` is ``remainder``,
    ``var``/``std`` are population statistics: ``correction=0``, ``argmax`` gives int32 in Keras).
    Tensors are handled in Keras's layout except for element-wise ops.
    """
    if call.kwargs.keys() - {"_args"}:
        raise Decline(f"keras.ops {call.class_name} with keyword arguments")
    if len(call.output_shapes) != 1:
        raise Decline(f"keras.ops {call.class_name} with several outputs")
    attrs = {k: v for k, v in vars(call.layer).items() if not k.startswith("_")}
    return _emit(call, ctx, call.class_name, list(call.kwargs.get("_args", ())), attrs)


# tf_keras TFOpLambda: TF symbol -> (op kind, argument names in TF's signature order)
TF_SYMBOLS: dict[str, tuple[str, tuple[str, ...]]] = {
    **{s: ("Add", ("x", "y")) for s in ("math.add", "__operators__.add", "math.add_n")},
    **{s: ("Subtract", ("x", "y")) for s in ("math.subtract", "__operators__.sub")},
    **{s: ("Multiply", ("x", "y")) for s in ("math.multiply", "__operators__.mul")},
    **{s: ("TrueDivide", ("x", "y")) for s in ("math.truediv", "math.divide", "__operators__.truediv")},
    "math.pow": ("Power", ("x", "y")),
    "__operators__.pow": ("Power", ("x", "y")),
    "math.negative": ("Negative", ("x",)),
    "math.abs": ("Absolute", ("x",)),
    "math.square": ("Square", ("x",)),
    "math.sqrt": ("Sqrt", ("x",)),
    "math.rsqrt": ("Rsqrt", ("x",)),
    "math.exp": ("Exp", ("x",)),
    "math.log": ("Log", ("x",)),
    "math.tanh": ("Tanh", ("x",)),
    "math.sigmoid": ("Sigmoid", ("x",)),
    "nn.relu": ("Relu", ("features",)),
    "math.maximum": ("Maximum", ("x", "y")),
    "math.minimum": ("Minimum", ("x", "y")),
    "math.equal": ("Equal", ("x", "y")),
    "math.not_equal": ("NotEqual", ("x", "y")),
    "math.greater": ("Greater", ("x", "y")),
    "math.less": ("Less", ("x", "y")),
    "linalg.matmul": ("Matmul", ("a", "b")),
    "matmul": ("Matmul", ("a", "b")),
    "transpose": ("Transpose", ("a", "perm")),
    "reshape": ("Reshape", ("tensor", "shape")),
    "concat": ("Concatenate", ("values", "axis")),
    "stack": ("Stack", ("values", "axis")),
    "expand_dims": ("ExpandDims", ("input", "axis")),
    "squeeze": ("Squeeze", ("input", "axis")),
    "cast": ("Cast", ("x", "dtype")),
    "clip_by_value": ("Clip", ("t", "clip_value_min", "clip_value_max")),
    "nn.softmax": ("Softmax", ("logits", "axis")),
    "math.reduce_mean": ("Mean", ("input_tensor", "axis", "keepdims")),
    "math.reduce_sum": ("Sum", ("input_tensor", "axis", "keepdims")),
    "math.reduce_max": ("Max", ("input_tensor", "axis", "keepdims")),
    "math.reduce_min": ("Min", ("input_tensor", "axis", "keepdims")),
    "__operators__.getitem": ("GetItem", ("tensor", "slice_spec")),
}
# TF argument name -> Keras op attribute
TF_ATTRS = {
    "perm": "axes",
    "shape": "newshape",
    "axis": "axis",
    "keepdims": "keepdims",
    "dtype": "dtype",
    "clip_value_min": "x_min",
    "clip_value_max": "x_max",
}


def translate_tf_op(call: LayerCall, ctx: Context) -> Translation:
    """A tf_keras ``TFOpLambda`` / ``SlicingOpLambda`` node (a TF function called on Keras
    tensors: ``tf.math.add``, ``tf.reshape``, ``tf.concat``, ``x[:, 0]``) as the torch expression.

    tf_keras records the TF symbol and the call's arguments; they are matched to TF's signature
    by position and name, then translated as the Keras 3 op of the same meaning.
    """
    symbol = str(getattr(call.layer, "symbol", ""))
    if symbol.startswith("compat.v1."):
        symbol = symbol[len("compat.v1.") :]
    if symbol not in TF_SYMBOLS:
        raise Decline(f"TF op tf.{symbol} has no translation")
    kind, names = TF_SYMBOLS[symbol]
    given: dict[str, Any] = dict(zip(names, call.kwargs.get("_args", ()), strict=False))
    given.update({k: v for k, v in call.kwargs.items() if k not in ("_args", "name")})
    if given.pop("conjugate", False):
        raise Decline(f"tf.{symbol} with conjugate=True")
    unknown = set(given) - set(names)
    if unknown:
        raise Decline(f"tf.{symbol} with arguments {sorted(unknown)}")
    if kind == "Matmul" and any(given.get(k) for k in ("transpose_a", "transpose_b")):
        raise Decline("tf.matmul with transposes")
    tensor_names = names[:1] if kind not in BINARY and kind not in ("Maximum", "Minimum", "Matmul") else names[:2]
    if kind in ("Clip",):
        tensor_names = names[:1]
    args = [given[n] for n in tensor_names if n in given]
    if kind == "GetItem":
        args.append(given["slice_spec"])
    attrs = {TF_ATTRS[k]: v for k, v in given.items() if k in TF_ATTRS and k not in tensor_names}
    if kind == "Softmax":
        attrs.setdefault("axis", -1)
    if kind == "Concatenate" or kind == "Stack":
        attrs.setdefault("axis", 0)
    if kind == "Cast" and hasattr(attrs.get("dtype"), "name"):
        attrs["dtype"] = attrs["dtype"].name
    if "axes" in attrs or kind == "Transpose":
        attrs.setdefault("axes", None)
    return _emit(call, ctx, kind, args, attrs)


def _keras_ops() -> tuple[str, ...]:
    kinds = set(UNARY) | set(BINARY) | set(REDUCE) - {"Add", "Subtract", "Multiply"}
    kinds |= {"Maximum", "Minimum", "Matmul", "Einsum", "Transpose", "Swapaxes", "Reshape", "Concatenate"}
    kinds |= {"Stack", "Var", "Std", "Softmax", "LogSoftmax", "Gelu", "ExpandDims", "Squeeze", "Cast", "Clip"}
    kinds |= {"Where", "Flip", "Cumsum", "Argmax", "Argmin", "Repeat", "Tile", "Norm", "GetItem"}
    kinds -= {"Add", "Subtract", "Multiply", "Abs"}
    return tuple(sorted(f"ops.{k}" for k in kinds))


ENTRIES = (
    LayerEntry.of(_keras_ops(), translate_keras_op),
    LayerEntry.of(("TFOpLambda", "SlicingOpLambda"), translate_tf_op),
)
