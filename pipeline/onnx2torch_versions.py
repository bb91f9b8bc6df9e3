"""Which ONNX ops (and ``since_version`` s) onnx2torch 1.5.15 converts, without importing it.

onnx2torch imports torchvision, which must never load in a process that has TensorFlow (it
crashes); the opset planning fixup runs in the orchestrating process and reads this table
instead. onnx2torch is no longer released, so the table is fixed; ``tests/fixups/test_opset.py``
checks it against the installed registry, and ``python -m pipeline.onnx2torch_versions`` prints
it anew.
"""

from __future__ import annotations

ONNX2TORCH: dict[tuple[str, str], tuple[int, ...]] = {
    ("", "Abs"): (6, 13),
    ("", "Acos"): (7,),
    ("", "Add"): (1, 6, 7, 13, 14),
    ("", "And"): (1, 7),
    ("", "ArgMax"): (11, 12, 13),
    ("", "ArgMin"): (11, 12, 13),
    ("", "Asin"): (7,),
    ("", "Atan"): (7,),
    ("", "AveragePool"): (7, 10, 11),
    ("", "BatchNormalization"): (9, 14, 15),
    ("", "Cast"): (9, 13),
    ("", "Ceil"): (6, 13),
    ("", "Celu"): (12,),
    ("", "Clip"): (6, 11, 12, 13),
    ("", "Concat"): (4, 11, 13),
    ("", "Constant"): (9, 11, 12, 13),
    ("", "ConstantOfShape"): (9,),
    ("", "Conv"): (1, 11),
    ("", "ConvTranspose"): (1, 11),
    ("", "Cos"): (7,),
    ("", "CumSum"): (11, 14),
    ("", "DepthToSpace"): (11, 13),
    ("", "Div"): (1, 6, 7, 13, 14),
    ("", "Dropout"): (10, 12, 13),
    ("", "Einsum"): (12,),
    ("", "Elu"): (6,),
    ("", "Equal"): (7, 11, 13),
    ("", "Erf"): (9, 13),
    ("", "Exp"): (6, 13),
    ("", "Expand"): (8, 13),
    ("", "EyeLike"): (9,),
    ("", "Flatten"): (9, 11, 13),
    ("", "Floor"): (6, 13),
    ("", "Gather"): (1, 11, 13),
    ("", "GatherElements"): (11, 13),
    ("", "GatherND"): (11, 12, 13),
    ("", "Gemm"): (9, 11, 13),
    ("", "GlobalAveragePool"): (1,),
    ("", "Greater"): (7, 9, 13),
    ("", "GreaterOrEqual"): (12,),
    ("", "HardSigmoid"): (1, 6),
    ("", "HardSwish"): (14,),
    ("", "Identity"): (1, 13, 14, 16),
    ("", "InstanceNormalization"): (1, 6),
    ("", "IsInf"): (10,),
    ("", "IsNaN"): (13,),
    ("", "LRN"): (1, 13),
    ("", "LayerNormalization"): (17,),
    ("", "LeakyRelu"): (1, 6, 16),
    ("", "Less"): (7, 9, 13),
    ("", "LessOrEqual"): (12,),
    ("", "Log"): (6, 13),
    ("", "LogSoftmax"): (1, 11, 13),
    ("", "MatMul"): (1, 9, 13),
    ("", "Max"): (8, 12, 13),
    ("", "MaxPool"): (8, 10, 11, 12),
    ("", "Mean"): (8, 13),
    ("", "Min"): (8, 12, 13),
    ("", "Mod"): (10, 13),
    ("", "Mul"): (1, 6, 7, 13, 14),
    ("", "Neg"): (1, 6, 13),
    ("", "NonMaxSuppression"): (10, 11),
    ("", "NonZero"): (13,),
    ("", "Not"): (1,),
    ("", "Or"): (1, 7),
    ("", "PRelu"): (7, 9, 16),
    ("", "Pad"): (2, 11, 13),
    ("", "Pow"): (1, 7, 12, 13, 15),
    ("", "Range"): (11,),
    ("", "Reciprocal"): (1, 6, 13),
    ("", "ReduceL1"): (1, 11, 13),
    ("", "ReduceL2"): (1, 11, 13),
    ("", "ReduceLogSum"): (1, 11, 13),
    ("", "ReduceLogSumExp"): (1, 11, 13),
    ("", "ReduceMax"): (1, 11, 12, 13),
    ("", "ReduceMean"): (1, 11, 13),
    ("", "ReduceMin"): (1, 11, 12, 13),
    ("", "ReduceProd"): (1, 11, 13),
    ("", "ReduceSum"): (1, 11, 13),
    ("", "ReduceSumSquare"): (1, 11, 13),
    ("", "Relu"): (6, 13, 14),
    ("", "Reshape"): (5, 13, 14),
    ("", "Resize"): (10, 11, 13),
    ("", "RoiAlign"): (10, 16),
    ("", "Round"): (11,),
    ("", "ScatterND"): (11, 13, 16),
    ("", "Selu"): (6,),
    ("", "Shape"): (1, 13, 15),
    ("", "Sigmoid"): (1, 6, 13),
    ("", "Sign"): (9, 13),
    ("", "Sin"): (7,),
    ("", "Slice"): (9, 10, 11, 13),
    ("", "Softmax"): (1, 11, 13),
    ("", "Softplus"): (1,),
    ("", "Softsign"): (1,),
    ("", "Split"): (2, 11, 13),
    ("", "Sqrt"): (1, 6, 13),
    ("", "Squeeze"): (1, 11, 13, 21),
    ("", "Sub"): (1, 6, 7, 13, 14),
    ("", "Sum"): (8, 13),
    ("", "Tan"): (7,),
    ("", "Tanh"): (6, 13),
    ("", "Tile"): (6, 13),
    ("", "TopK"): (1, 10, 11),
    ("", "Transpose"): (1, 13),
    ("", "Unsqueeze"): (1, 11, 13),
    ("", "Where"): (9, 16),
    ("", "Xor"): (1, 7),
}


def live_table() -> dict[tuple[str, str], tuple[int, ...]]:
    """The same table read from the installed onnx2torch (imports torch and torchvision)."""
    from onnx2torch.node_converters.registry import _CONVERTER_REGISTRY

    table: dict[tuple[str, str], list[int]] = {}
    for key in _CONVERTER_REGISTRY:
        table.setdefault((key.domain, key.operation_type), []).append(key.version)
    return {k: tuple(sorted(v)) for k, v in sorted(table.items())}


if __name__ == "__main__":
    for (domain, op), versions in live_table().items():
        print(f"    ({domain!r}, {op!r}): {versions!r},")
