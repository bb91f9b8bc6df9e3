"""Attach the exported weights: graph inputs become initializers, each written once, straight from where it lives.

The TensorFlow side exports a graph whose large weights are *inputs* (see
:mod:`pipeline.stages.export`); :func:`attach` then turns them into initializers, one tensor at a
time, straight from where they live (TensorFlow variables, or an existing external data file):

* the weight fixups (``WEIGHT_FIXUPS`` in :mod:`pipeline.fixups`: ``fold_weight_nodes``,
  ``fuse_conv_affine``) first rewrite the graph, replacing nodes by tensors computed only when
  they are written;
* each resulting tensor is written once, either inline or appended to an external data file
  (:mod:`pipeline.external_data`), named after the weight it comes from where that name is free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import onnx

from pipeline.external_data import DataWriter, Loader, is_external, make_tensor
from pipeline.fixups import WEIGHT_FIXUPS, FixupContext, LazyWeights, run_fixups
from pipeline.onnx_utils import subgraph_inputs

STAGE = "export"


@dataclass
class AttachResult:
    """What :func:`attach` did."""

    folded: int = 0  # nodes computed here and removed from the graph
    fused: int = 0  # Mul/Add nodes merged into a Conv
    written: int = 0  # initializers written (inline or external)
    external_bytes: int = 0
    inline_bytes: int = 0
    changes: list[str] = field(default_factory=list)


def attach(
    model: onnx.ModelProto,
    weights: Mapping[str, Loader],
    writer: DataWriter | None,
    *,
    base_dir: Path | None = None,
) -> AttachResult:
    """Make the graph inputs named in ``weights`` initializers, folding the nodes that only use them.

    ``weights`` maps graph input names to loaders (called once each, when the tensor is written).
    Tensors of ``writer``'s size or more go to its data file; the rest stay inline. ``base_dir`` is
    where existing external initializers of ``model`` live (they are read only if a fold needs them).
    ``model`` is changed in place.
    """
    lazy = LazyWeights(dict(weights), {name: name for name in weights}, base_dir)
    context = FixupContext(model_dir=base_dir, weights=lazy)
    fixed, records = run_fixups(model, WEIGHT_FIXUPS, context, kind="weight fixup", stage=STAGE)
    if fixed is not model:
        model.CopyFrom(fixed)
    result = AttachResult(folded=lazy.folded, fused=lazy.fused, changes=[c for r in records for c in r.changes])
    graph = model.graph
    inline = {i.name for i in graph.initializer}
    needed: set[str] = {o.name for o in graph.output}
    for node in graph.node:
        needed.update(n for n in node.input if n)
        needed |= subgraph_inputs(node)
    finals = [name for name in lazy.tensors if name in needed and name not in inline]
    finals = _name_after_weights(graph, finals, lazy.tensors, lazy.origin, needed)
    final_set = set(finals)
    unused = [t for t in graph.initializer if t.name not in needed]
    for tensor in unused:  # e.g. biases replaced by fused ones
        graph.initializer.remove(tensor)
    # weight inputs (used or not) leave the inputs; tensors that became initializers lose value_info
    remaining_inputs = [i for i in graph.input if i.name not in weights and i.name not in final_set]
    del graph.input[:]
    graph.input.extend(remaining_inputs)
    stale = [v for v in graph.value_info if v.name in final_set]
    for v in stale:
        graph.value_info.remove(v)
    for name in finals:
        array = lazy.tensors[name]()
        tensor = make_tensor(name, array, writer)
        if is_external(tensor):
            result.external_bytes += array.nbytes
        else:
            result.inline_bytes += array.nbytes
        del array
        graph.initializer.append(tensor)
        result.written += 1
    return result


def _name_after_weights(
    graph: onnx.GraphProto,
    finals: list[str],
    lazy: dict[str, Loader],
    origin: dict[str, str],
    needed: set[str],
) -> list[str]:
    """Rename derived tensors after the weight they come from (``conv1/kernel``, not ``Transpose__12:0``).

    Only when that weight is not itself used any more and the name is free.
    """
    taken = {t.name for t in graph.initializer} | {o for n in graph.node for o in n.output}
    taken |= {i.name for i in graph.input if i.name not in lazy}
    renames: dict[str, str] = {}
    for name in finals:
        root = origin.get(name)
        if root is None or root == name or root in needed or root in taken or root in renames.values():
            continue
        renames[name] = root
    if not renames:
        return finals
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
    for name, new in renames.items():
        lazy[new] = lazy.pop(name)
        needed.add(new)
    return [renames.get(name, name) for name in finals]
