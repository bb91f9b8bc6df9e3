"""Fixup: graph inputs that have an initializer of the same name are weights, not inputs."""

from __future__ import annotations

import onnx

from pipeline.fixups.base import FixupContext, FixupResult, rewrite_copy

# IR 4 is the first version in which an initializer need not be listed among the graph inputs
FIRST_IR_WITHOUT_LISTED_WEIGHTS = 4


def weights_as_constants(model: onnx.ModelProto, context: FixupContext) -> FixupResult[onnx.ModelProto]:
    """Drop graph inputs that have an initializer of the same name; their initializers stay as constants.

    Before IR 4 every initializer had to be listed among the graph inputs as well (ONNX model-zoo
    files exported by Caffe2 and early PyTorch list each weight so), and from IR 4 on such an input
    is an optional input whose initializer is its default. ONNX Runtime runs either when fed only
    the inputs without an initializer, with the defaults in place, which is what a conversion feeds
    too. Kept as inputs, they look like data to every later step: a fixup that folds the only
    reader of such a weight (``Shape(weight)``) drops its initializer and leaves an input that
    nothing feeds, and the importer and ``torch.export`` would see the weights as arguments. IR 3
    models are raised to IR 4, whose only difference is that rule.
    """
    initializers = {t.name for t in model.graph.initializer}
    if not any(value.name in initializers for value in model.graph.input):
        return FixupResult(model, [])
    return rewrite_copy(model, _drop_listed_weights)


def _drop_listed_weights(model: onnx.ModelProto) -> list[str]:
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    data = [value for value in graph.input if value.name not in initializers]
    dropped = len(graph.input) - len(data)
    del graph.input[:]
    graph.input.extend(data)
    changes = [f"{dropped} graph input(s) with an initializer kept as constants (defaults, not fed)"]
    if model.ir_version < FIRST_IR_WITHOUT_LISTED_WEIGHTS:
        changes.append(f"IR version {model.ir_version} -> {FIRST_IR_WITHOUT_LISTED_WEIGHTS}")
        model.ir_version = FIRST_IR_WITHOUT_LISTED_WEIGHTS
    return changes
