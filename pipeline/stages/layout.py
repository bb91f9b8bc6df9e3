"""Memory layout of the inference artifact: 4-D weights stored channels-last in ``model.pt2``.

oneDNN runs a convolution in the layout of its weight and input. A Keras program takes NHWC
inputs and permutes them to NCHW first, which gives a tensor already in channels-last memory
order; with channels-last weights the whole network then runs NHWC, with no reorders between
convolutions (``torch.export.save`` keeps the strides, ``model.safetensors`` stays contiguous).
``scripts/bench_speed.py`` times both layouts (``converted eager`` / ``converted channels_last``).
"""

from __future__ import annotations

from typing import Any


def store_channels_last(program: Any) -> int:
    """Make every 4-D floating-point weight of ``program`` channels-last in place; returns how many.

    ``torch.export.save`` then warns "No complete tensor found in the group" for each (it looks for
    a contiguous tensor spanning the storage) and writes the whole storage with the strides, which
    is what is wanted: the warning is silenced.
    """
    import warnings

    import torch

    warnings.filterwarnings("ignore", message="No complete tensor found in the group", category=UserWarning)

    changed = 0
    with torch.no_grad():
        for tensor in program.state_dict.values():
            last = tensor.dim() == 4 and tensor.is_contiguous(memory_format=torch.channels_last)
            if tensor.dim() == 4 and tensor.is_floating_point() and not last:
                tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
                changed += 1
    return changed
