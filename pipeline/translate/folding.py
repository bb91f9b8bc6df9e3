"""Passes over the translated steps that make model.py read as people write it.

``fold_zero_padding``: a ZeroPadding whose only reader is a convolution with
``padding="valid"`` becomes that convolution's own (symmetric) ``padding=`` argument, as in
torchvision's ``nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)``. Keras models spell it
as two layers (ResNet's ``conv1_pad`` + ``conv1_conv``); the numbers are the same, one pass
over the tensor fewer. A max pooling with ``padding="valid"`` takes it the same way when the
padded tensor comes out of a ReLU (ResNet's ``pool1_pad`` + ``pool1_pool``, torchvision's
``nn.MaxPool2d(kernel_size=3, stride=2, padding=1)``): torch pads max pooling with -inf, Keras's
ZeroPadding with zeros, and over values >= 0 with a real value in every window (torch allows at
most half the kernel as padding) both maxima are the same.
"""

from __future__ import annotations

import re
from typing import Any

_PAD = re.compile(r"^(\w+) = F\.pad\((\w+), \(([\d, ]+)\)\)$")
_CONVS = ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D")
_MAX_POOLS = ("MaxPooling1D", "MaxPooling2D", "MaxPooling3D")
_RELU_MODULES = ("nn.ReLU(", "nn.ReLU6(")
_RELU_CALLS = ("F.relu(", "torch.relu(", "F.relu6(")


def _word(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.])" + re.escape(name) + r"(?!\w)")


def fold_zero_padding(steps: list[Any], returned: set[str]) -> None:
    """Fold ZeroPadding into the next convolution's padding where that is exact (in place)."""
    calls: dict[int, int] = {}
    for step in steps:
        if step.call.layer is not None:
            calls[id(step.call.layer)] = calls.get(id(step.call.layer), 0) + 1
    for i, step in enumerate(steps):
        if not step.call.class_name.startswith("ZeroPadding") or step.method != "direct":
            continue
        lines = step.translation.lines
        match = _PAD.match(lines[-1]) if lines else None
        if match is None or match.group(1) in returned:
            continue
        out, src = match.group(1), match.group(2)
        flat = [int(v) for v in match.group(3).split(",")]
        pairs = list(reversed(list(zip(flat[::2], flat[1::2], strict=True))))
        if any(a != b for a, b in pairs):
            continue
        readers = [s for s in steps[i + 1 :] if any(_word(out).search(line) for line in s.translation.lines)]
        if len(readers) != 1:
            continue
        conv = readers[0]
        if (
            conv.method != "direct"
            or calls.get(id(conv.call.layer), 0) != 1
            or conv.call.config.get("padding") != "valid"
            or conv.call.attr not in conv.translation.modules
        ):
            continue
        if conv.call.class_name in _MAX_POOLS:
            kernel = conv.call.config.get("pool_size", 2)
            kernel = list(kernel) if isinstance(kernel, list | tuple) else [kernel] * len(pairs)
            if not _non_negative(steps[:i], src) or any(2 * a > k for (a, _), k in zip(pairs, kernel, strict=True)):
                continue
        elif conv.call.class_name not in _CONVS:
            continue
        ctor = conv.translation.modules[conv.call.attr]
        rank = len(pairs)
        spelled = str(pairs[0][0]) if rank == 1 else "(" + ", ".join(str(a) for a, _ in pairs) + ")"
        cut = min([p for p in (ctor.find(", groups="), ctor.find(", bias=")) if p >= 0] or [len(ctor) - 1])
        assert "padding=" not in ctor, ctor
        conv.translation.modules[conv.call.attr] = f"{ctor[:cut]}, padding={spelled}{ctor[cut:]}"
        conv.translation.lines = [_word(out).sub(src, line) for line in conv.translation.lines]
        step.translation.lines = lines[:-1]
        step.translation.outputs[0].var = src
        step.reason = step.reason or f"folded into {conv.call.attr}'s padding"


def _non_negative(steps: list[Any], var: str) -> bool:
    """Whether ``var`` is the output of a ReLU (a ReLU module or ``relu`` on the last line of its step)."""
    for step in reversed(steps):
        if not any(value.var == var for value in step.translation.outputs):
            continue
        line = step.translation.lines[-1] if step.translation.lines else ""
        head, _, expr = line.partition(" = ")
        if head != var:
            return False
        if expr.startswith(_RELU_CALLS):
            return True
        module = re.match(r"self\.(\w+)\(", expr)
        ctor = step.translation.modules.get(module.group(1), "") if module else ""
        return ctor.startswith(_RELU_MODULES) and "negative" not in ctor
    return False
