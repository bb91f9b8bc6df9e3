"""The custom ops with TensorFlow handlers: what the TensorFlow worker loads.

These modules import neither torch nor onnx2torch at import time (torch only when their torch
module is built): the TensorFlow worker imports them, and importing torch there costs seconds and
half a gigabyte per export, while torchvision after TensorFlow crashes the process. Every op with
a TF handler or an ONNX function must be listed here; a test checks it against the full list.
"""

from __future__ import annotations

from custom_ops import bincount, bucketize, erfc, euclidean_norm, floor_mod, lookup_table, tf_one_hot
from custom_ops.base import CustomOp

TF_OPS: tuple[CustomOp, ...] = (
    bincount.OP,
    bucketize.OP,
    erfc.OP,
    euclidean_norm.OP,
    floor_mod.OP,
    lookup_table.OP,
    tf_one_hot.OP,
)
