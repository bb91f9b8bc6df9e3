"""Stage 3b: run the fixed ONNX model in ONNX Runtime, CUDA first, and record what ran.

onnxruntime-gpu falls back to the CPU provider when CUDA cannot load (no GPU, missing libraries);
the report records the providers the session actually holds. TF32 is switched off on CUDA so
the comparison against TensorFlow and torch is in full float32.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from pipeline.errors import Location, OnnxRuntimeError
from pipeline.inputs import InputSets

STAGE = "onnxruntime"


@dataclass
class OrtRun:
    """Outputs of every input set, plus the providers that ran them."""

    outputs: dict[str, dict[str, np.ndarray]]
    providers: list[str]
    probes: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def gpu_present() -> bool:
    """Whether a CUDA driver with at least one device is there (asked without torch or TensorFlow)."""
    import ctypes

    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    return cuda.cuInit(0) == 0 and cuda.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0


def wanted_providers() -> list[tuple[str, dict[str, str]]]:
    """CUDA (TF32 off) then CPU where a GPU is there; CPU alone otherwise, so no load error is logged."""
    import onnxruntime as ort

    providers: list[tuple[str, dict[str, str]]] = []
    if "CUDAExecutionProvider" in ort.get_available_providers() and gpu_present():
        ort.preload_dlls()  # CUDA and cuDNN libraries from the nvidia-* wheels torch also uses
        providers.append(("CUDAExecutionProvider", {"use_tf32": "0"}))
    providers.append(("CPUExecutionProvider", {}))
    return providers


def session(
    model: onnx.ModelProto | Path, extra_outputs: list[str] | None = None, *, low_memory: bool = False
):  # -> ort.InferenceSession
    """An inference session on ``model`` (a proto, or a path: external data is then read from its folder).

    A model on disk is opened by path, so its weights are never copied into a protobuf message
    (ONNX Runtime maps page-aligned external data); with ``extra_outputs``, a copy of its graph
    (weights left in the data file) is written next to it for the session and removed again.
    ``low_memory`` turns off weight pre-packing, which holds a second, re-laid-out copy of every
    MatMul/Gemm/Conv weight while the session is created.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # the CUDA provider's load failure on CPU machines is expected
    if low_memory:
        options.add_session_config_entry("session.disable_prepacking", "1")
    logging.getLogger("onnxruntime").setLevel(logging.ERROR)
    probe_path = None
    if extra_outputs:
        proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model), load_external_data=False)
        probe = onnx.ModelProto()
        probe.CopyFrom(proto)
        existing = {o.name for o in probe.graph.output}
        for name in extra_outputs:
            if name not in existing:
                probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
        if isinstance(model, onnx.ModelProto):
            model = probe
        else:
            probe_path = Path(model).with_name(f".probe-{os.getpid()}-{Path(model).name}")
            probe_path.write_bytes(probe.SerializeToString())
            model = probe_path
    payload = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    try:
        return ort.InferenceSession(payload, sess_options=options, providers=wanted_providers())
    except Exception as exc:
        text = str(exc)
        node = _node_in(text)
        raise OnnxRuntimeError(
            f"ONNX Runtime cannot load the model: {text.strip().splitlines()[0][:400]}",
            stage=STAGE,
            location=Location(node=node) if node else None,
        ) from None
    finally:
        if probe_path is not None:
            probe_path.unlink(missing_ok=True)


def _node_in(message: str) -> str | None:
    import re

    match = re.search(r"[Nn]ode \(([^)]+)\)|node name: ([^\s,]+)|Node:([^\s,]+)", message)
    if not match:
        return None
    return next(g for g in match.groups() if g)


def run(model: onnx.ModelProto | Path, sets: InputSets, probes: list[str] | None = None) -> OrtRun:
    """Run every input set; ``probes`` are intermediate tensors to return as well."""
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model), load_external_data=False)
    main_names = [o.name for o in proto.graph.output]
    external = any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
    sess = session(model, probes, low_memory=external)
    output_names = [o.name for o in sess.get_outputs()]
    result = OrtRun(outputs={}, providers=list(sess.get_providers()))
    for set_name, arrays in sets.items():
        try:
            values = sess.run(None, dict(arrays))
        except Exception as exc:
            text = str(exc)
            node = _node_in(text)
            raise OnnxRuntimeError(
                f"ONNX Runtime failed on input set '{set_name}': {text.strip().splitlines()[0][:400]}",
                stage=STAGE,
                location=Location(node=node) if node else None,
            ) from None
        named = dict(zip(output_names, values, strict=True))
        result.outputs[set_name] = {n: named[n] for n in main_names}
        if probes:
            result.probes[set_name] = {p: named[p] for p in probes if p in named}
    return result
