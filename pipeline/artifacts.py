"""Artifacts made elsewhere, for ``python -m pipeline validate``: checked before anything runs them.

* ONNX files: read as protobuf (data, no code). Their inputs and outputs are matched to the source
  model's by name, else by position when the counts agree; the copy the validator runs then carries
  the source's names (only names change: no node, weight or shape).
* torch programs: ``torch.export`` archives (``.pt2``) only. ``torch.export.load`` unpickles parts
  of an archive in some cases (weights stored as pickles, custom objects, and as a fallback when its
  sample inputs do not load as plain tensors). :func:`load_program` refuses archives with pickled
  payloads and runs the loader with every ``torch.load`` forced to ``weights_only=True``, so a
  ``.pt2`` never runs code from the file. Pickled modules and state dicts (``.pt``, ``.pth``) are
  refused: a state dict has no architecture, and a pickled module is code.
"""

from __future__ import annotations

import contextlib
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.context import TensorSpec
from pipeline.errors import InputSpecError, NotAModelError, SourceNotFoundError, UnsafeModelError
from pipeline.helpers import first_line

STAGE = "load"
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".tar")


def check_torch_file(path: str | Path) -> Path:
    """A ``.pt2`` archive whose payloads are all plain tensors; raise a user error otherwise."""
    path = Path(path)
    if not path.is_file():
        raise SourceNotFoundError(f"torch program not found: {path}", stage=STAGE)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise UnsafeModelError(
            f"{path}: pickled torch files are not loaded (unpickling runs code from the file, and a state "
            "dict alone has no architecture)",
            stage=STAGE,
            hint="pass a torch.export program: torch.export.save(torch.export.export(model, example), 'model.pt2')",
        )
    if not zipfile.is_zipfile(path):
        raise NotAModelError(f"{path} is not a torch.export program (.pt2 files are zip archives)", stage=STAGE)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if not any(n.endswith("models/model.json") or "/models/" in n for n in names):
            raise NotAModelError(f"{path} is a zip archive but holds no torch.export program", stage=STAGE)
        if any("/data/aotinductor/" in n for n in names):
            raise UnsafeModelError(
                f"{path} holds compiled AOTInductor code, which is not run",
                stage=STAGE,
                hint="save the program with torch.export.save (no compilation)",
            )
        for name in names:
            if name.endswith(("_weights_config.json", "_constants_config.json")):
                _check_payloads(path, name, json.loads(archive.read(name)))
            elif name.endswith(".pt") and ("/data/weights/" in name or "/data/constants/" in name):
                raise UnsafeModelError(
                    f"{path} stores its weights as a pickle ({name}), which is not loaded", stage=STAGE
                )
    return path


def _check_payloads(path: Path, member: str, config: dict[str, Any]) -> None:
    for fqn, meta in (config.get("config") or {}).items():
        pickled = bool(meta.get("use_pickle"))
        kind = str(meta.get("path_name", ""))
        if pickled or kind.startswith(("custom_obj", "opaque_obj")):
            raise UnsafeModelError(
                f"{path}: '{fqn}' is stored as a pickled object ({member}), which is not loaded",
                stage=STAGE,
                hint="export a program whose weights and constants are plain tensors",
            )


@contextlib.contextmanager
def _weights_only() -> Iterator[None]:
    """Within the block, every ``torch.load`` runs with ``weights_only=True``."""
    import torch

    original = torch.load

    def guarded(*args: Any, **kwargs: Any) -> Any:
        kwargs["weights_only"] = True
        return original(*args, **kwargs)

    torch.load = guarded  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.load = original  # type: ignore[assignment]


def load_program(path: str | Path) -> Any:
    """``torch.export.load`` of a checked archive, with unpickling limited to plain tensors."""
    import torch

    checked = check_torch_file(path)
    with _weights_only():
        try:
            return torch.export.load(str(checked))
        except Exception as exc:
            text = first_line(exc, 300)
            raise NotAModelError(f"{path} could not be loaded as a torch.export program: {text}", stage=STAGE) from None


def adopt_onnx(given: str | Path, dest: Path, specs: list[TensorSpec], outputs: list[str]) -> list[str]:
    """Copy the ONNX file to ``dest`` with the source model's input and output names; returns notes.

    Names that already match are kept; otherwise inputs (outputs) are matched by position when
    their counts agree. Anything else is an :class:`InputSpecError` naming both sides.
    """
    from pipeline.config import ConversionConfig
    from pipeline.onnx_utils import copy_model, load

    given = Path(given)
    if not given.is_file():
        raise SourceNotFoundError(f"ONNX file not found: {given}", stage=STAGE)
    model = load(given, stage=STAGE)
    initializers = {i.name for i in model.graph.initializer}
    onnx_inputs = [i.name for i in model.graph.input if i.name not in initializers]
    onnx_outputs = [o.name for o in model.graph.output]
    want_inputs = [s.name for s in specs]
    renames: dict[str, str] = {}
    notes: list[str] = []
    for kind, have, want in (("inputs", onnx_inputs, want_inputs), ("outputs", onnx_outputs, outputs)):
        if set(have) == set(want):
            continue
        if len(have) != len(want):
            raise InputSpecError(
                f"{given}: the ONNX model has {kind} {have}, the source model {want}: they cannot be matched",
                stage=STAGE,
            )
        pairs = [(h, w) for h, w in zip(have, want, strict=True) if h != w]
        renames.update(pairs)
        matched = ", ".join(f"{h} -> {w}" for h, w in pairs)
        notes.append(f"ONNX {kind} matched to the source model's by position: {matched}")
    for value in [*model.graph.input, *model.graph.output]:
        value.name = renames.get(value.name, value.name)
    for node in model.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    # weights are copied tensor by tensor, into model.onnx.data when large (or external already)
    copy_model(model, given.parent, dest, ConversionConfig.external_data_mb)
    return notes


def fixed_batch(model: Any, specs: list[TensorSpec]) -> list[dict[str, Any]]:
    """Inputs whose batch axis is dynamic in the source model but fixed in the ONNX graph."""
    found = []
    graph_inputs = {i.name: i for i in model.graph.input}
    for spec in specs:
        value = graph_inputs.get(spec.name)
        if value is None or spec.batch_axis is None or not value.type.tensor_type.HasField("shape"):
            continue
        dims = value.type.tensor_type.shape.dim
        if len(dims) > spec.batch_axis and dims[spec.batch_axis].HasField("dim_value"):
            found.append({"input": spec.name, "axis": spec.batch_axis, "size": int(dims[spec.batch_axis].dim_value)})
    return found
