"""Inputs that do not fit the model: TensorFlow rejecting the reference run's inputs is a user error.

A sequence longer than a position-embedding table (keras-hub's ``max_sequence_length``) makes
TensorFlow raise ``InvalidArgumentError`` from a Slice or Gather inside the model. That is the
input spec's fault, not the pipeline's: the error names the inputs, the Keras layer whose node
failed, and what to change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.context import TensorSpec
from pipeline.errors import InputSpecError, Location

STAGE = "tf_reference"


def _layer_of(message: str, layers: Sequence[str]) -> tuple[str | None, str | None]:
    """The failing node (``{{node a/b_1/Slice}}``) and the Keras layer its scope names."""
    match = re.search(r"\{\{node ([^}]+)\}\}", message) or re.search(r"node ([\w/.\-]+)", message)
    if not match:
        return None, None
    node = match.group(1)
    scopes = [re.sub(r"_\d+$", "", part) for part in node.split("/")]
    for scope in reversed(scopes):
        if scope in layers:
            return node, scope
    return node, None


def misfit(exc: BaseException, specs: Sequence[TensorSpec], layers: Sequence[str]) -> InputSpecError:
    """The user error for TensorFlow refusing ``specs``-shaped inputs with ``exc``."""
    text = str(exc)
    last = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("File ")]
    reason = next((line for line in last if not line.startswith(("[[", "Detected at", "Graph execution"))), text[:200])
    numbers = {int(n) for n in re.findall(r"\d+", reason)}
    suspects = [s for s in specs if any(d in numbers for i, d in enumerate(s.shape) if i != s.batch_axis and d)]
    named = suspects or list(specs)
    node, layer = _layer_of(text, layers)
    shapes = ", ".join(f"'{s.name}' {list(s.shape)}" for s in named)
    where = f" in Keras layer '{layer}'" if layer else ""
    return InputSpecError(
        f"inputs that do not fit the model: {shapes} rejected{where}: {reason[:300]}",
        stage=STAGE,
        location=Location(node=node, layer=layer) if node else None,
        hint="give the input a shape the model accepts (`inputs: {NAME: {shape: [...]}}` in the config), "
        "e.g. a sequence no longer than the model's position table",
    )
