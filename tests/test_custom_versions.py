"""The orchestrator's static converter table matches the registry, and the orchestrator stays torch-free."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from custom_ops import claimed_versions
from pipeline.custom_versions import CUSTOM

ROOT = Path(__file__).resolve().parent.parent


def test_static_table_matches_the_custom_converters() -> None:
    assert claimed_versions() == CUSTOM, "run `python -m custom_ops` and paste its output into CUSTOM"


def test_orchestrator_stages_import_no_torch() -> None:
    """Fixups (opset planning included), ONNX Runtime and validation run without torch loaded."""
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from onnx import TensorProto, helper
        from pipeline.fixups import DEFAULT_FIXUPS, FixupContext, run_fixups
        from pipeline.stages import onnxruntime_run, validate  # noqa: F401
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
        axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
        nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["m"]), helper.make_node("Sub", ["x", "m"], ["y"])]
        graph = helper.make_graph(nodes, "g", [x], [y], initializer=[axes])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        fixed, records = run_fixups(model, DEFAULT_FIXUPS, FixupContext())
        result = onnxruntime_run.run(fixed, {"set": {"x": np.ones((2, 5), np.float32)}})
        assert result.outputs["set"]["y"].shape == (2, 5)
        print("torch" in sys.modules, "tensorflow" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "False"], out.stdout + out.stderr
