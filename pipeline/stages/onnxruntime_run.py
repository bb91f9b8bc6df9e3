"""Stage 3b: run the fixed ONNX model in ONNX Runtime, CUDA first, and record what ran where.

The CUDA provider is asked for only where a GPU is there, with TF32 off so the comparison against
TensorFlow and torch is in full float32; if it cannot start, the session is made again on the CPU
provider and the report says why. Which provider ran each node comes from ONNX Runtime's own
profiler: every executed kernel is logged with its node, op and provider (after ONNX Runtime's
graph optimisations, so fused nodes count once). An input set that fails to run (a batch size the
model cannot take) is recorded per set rather than ending the stage; only a model that runs no set
at all is an error.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from pipeline import tempdirs
from pipeline.errors import Location, OnnxRuntimeError
from pipeline.helpers import first_line
from pipeline.inputs import InputSets
from pipeline.locate import node_in_message

STAGE = "onnxruntime"


@dataclass
class OrtRun:
    """Outputs of every input set, plus the providers that ran them."""

    outputs: dict[str, dict[str, np.ndarray]]
    providers: list[str]
    probes: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # input set -> why it did not run
    placement: dict[str, Any] = field(default_factory=dict)  # see node_placement()
    notes: list[str] = field(default_factory=list)


def gpu_present() -> bool:
    """Whether a CUDA driver with at least one device is there (asked without torch or TensorFlow)."""
    import ctypes

    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    try:
        return cuda.cuInit(0) == 0 and cuda.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0
    except Exception:
        return False


def wanted_providers() -> list[tuple[str, dict[str, str]]]:
    """CUDA (TF32 off) then CPU where a GPU is there; CPU alone otherwise, so no load error is logged."""
    import onnxruntime as ort

    providers: list[tuple[str, dict[str, str]]] = []
    if "CUDAExecutionProvider" in ort.get_available_providers() and gpu_present():
        try:
            ort.preload_dlls()  # CUDA and cuDNN libraries from the nvidia-* wheels torch also uses
        except Exception:  # older builds lack it, or the libraries are elsewhere: the session will say
            pass
        providers.append(("CUDAExecutionProvider", {"use_tf32": "0"}))
    providers.append(("CPUExecutionProvider", {}))
    return providers


def _with_outputs(model: onnx.ModelProto | Path, extra_outputs: list[str]) -> onnx.ModelProto:
    """A copy of the graph (weights stay in external data) that also outputs ``extra_outputs``."""
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model), load_external_data=False)
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    existing = {o.name for o in probe.graph.output}
    for name in extra_outputs:
        if name not in existing:
            probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    return probe


def session(
    model: onnx.ModelProto | Path,
    extra_outputs: list[str] | None = None,
    *,
    profile_dir: Path | None = None,
    notes: list[str] | None = None,
    low_memory: bool | None = None,
):  # -> ort.InferenceSession
    """An inference session on ``model`` (a proto, or a path: external data is then read from its folder).

    ``extra_outputs`` are intermediate tensors to expose as outputs; ``profile_dir`` switches
    ONNX Runtime's profiler on (see :func:`node_placement`). If the CUDA provider fails to start,
    the session is made on the CPU provider and a note says so.

    A model on disk is opened by path, so its weights are never copied into a protobuf message
    (ONNX Runtime maps page-aligned external data); with ``extra_outputs``, a copy of its graph
    (weights left in the data file) is written next to it for the session and removed again.
    ``low_memory`` turns off weight pre-packing, which holds a second, re-laid-out copy of every
    MatMul/Gemm/Conv weight while the session is created; by default it is on for models whose
    weights are in external data (the large ones).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    # fatal only: the CUDA provider's load failure on CPU machines is expected, and a node that fails
    # to run is reported by the exception (one error line naming it, not ONNX Runtime's own log lines)
    options.log_severity_level = 4
    # idle threads sleep instead of spinning: the torch stages run beside it (pipeline.overlap)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if low_memory is None:
        graph = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model), load_external_data=False)
        low_memory = any(t.data_location == onnx.TensorProto.EXTERNAL for t in graph.graph.initializer)
    if low_memory:
        options.add_session_config_entry("session.disable_prepacking", "1")
    if profile_dir is not None:
        options.enable_profiling = True
        options.profile_file_prefix = str(profile_dir / "ort_profile")
    probe_path = None
    if extra_outputs:
        probe = _with_outputs(model, extra_outputs)
        if isinstance(model, onnx.ModelProto):
            model = probe
        else:  # next to the model, so that its external data resolves
            probe_path = Path(model).with_name(f".probe-{os.getpid()}-{Path(model).name}")
            probe_path.write_bytes(probe.SerializeToString())
            model = probe_path
    payload = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    logging.getLogger("onnxruntime").setLevel(logging.ERROR)
    providers = wanted_providers()
    try:
        return ort.InferenceSession(payload, sess_options=options, providers=providers)
    except Exception as exc:
        if len(providers) > 1:  # the CUDA provider itself may be what failed: CPU alone
            try:
                sess = ort.InferenceSession(payload, sess_options=options, providers=["CPUExecutionProvider"])
            except Exception:
                pass
            else:
                if notes is not None:
                    notes.append(f"ONNX Runtime's CUDA provider failed to start, ran on CPU: {first_line(exc, 400)}")
                return sess
        text = str(exc)
        node = node_in_message(text)
        raise OnnxRuntimeError(
            f"ONNX Runtime cannot load the model: {first_line(exc, 400)}",
            stage=STAGE,
            location=Location(node=node) if node else None,
        ) from None
    finally:
        if probe_path is not None:
            probe_path.unlink(missing_ok=True)


def node_placement(profile_file: str | Path) -> dict[str, Any]:
    """Nodes per provider from an ONNX Runtime profile: ``{provider: {"nodes": n, "ops": {op: n}}}``.

    Every kernel ONNX Runtime executes is logged as a ``Node`` event whose args name the op and the
    provider; a node is counted once however many runs were profiled.
    """
    events = json.loads(Path(profile_file).read_text(encoding="utf-8"))
    seen: dict[str, tuple[str, str]] = {}
    for event in events:
        args = event.get("args") or {}
        if event.get("cat") != "Node" or "provider" not in args:
            continue
        name = str(event.get("name", "")).removesuffix("_kernel_time")
        seen[name] = (str(args["provider"]), str(args.get("op_name", "?")))
    by_provider: dict[str, Counter[str]] = {}
    for provider, op in seen.values():
        by_provider.setdefault(provider, Counter())[op] += 1
    return {
        provider: {"nodes": sum(ops.values()), "ops": dict(sorted(ops.items()))}
        for provider, ops in sorted(by_provider.items())
    }


def provider_options(sess: Any) -> dict[str, dict[str, str]]:
    """The options each provider of ``sess`` runs with (e.g. CUDA's ``use_tf32``), as ONNX Runtime reports them."""
    try:
        options = sess.get_provider_options()
    except Exception:
        return {}
    keep = ("use_tf32", "device_id", "cudnn_conv_algo_search")
    return {p: {k: v for k, v in o.items() if k in keep} for p, o in options.items() if p != "CPUExecutionProvider"}


def run(model: onnx.ModelProto | Path, sets: InputSets, probes: list[str] | None = None) -> OrtRun:
    """Run every input set; ``probes`` are intermediate tensors to return as well."""
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model), load_external_data=False)
    main_names = [o.name for o in proto.graph.output]
    profile_dir = tempdirs.make("ort_profile")
    notes: list[str] = []
    external = any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
    try:
        sess = session(model, probes, profile_dir=profile_dir, notes=notes, low_memory=external)
        output_names = [o.name for o in sess.get_outputs()]
        result = OrtRun(outputs={}, providers=list(sess.get_providers()), notes=notes)
        for set_name, arrays in sets.items():
            try:
                values = sess.run(None, dict(arrays))
            except Exception as exc:  # keep ONNX Runtime's detail lines (index, got, expected)
                result.errors[set_name] = " ".join(str(exc).split())[:400] or type(exc).__name__
                continue
            named = dict(zip(output_names, values, strict=True))
            result.outputs[set_name] = {n: named[n] for n in main_names}
            if probes:
                result.probes[set_name] = {p: named[p] for p in probes if p in named}
        try:
            result.placement = {
                "nodes_by_provider": node_placement(sess.end_profiling()),
                "provider_options": provider_options(sess),
                "graph_nodes": len(proto.graph.node),
            }
        except Exception as exc:  # the record is informative; a profiler hiccup must not fail the stage
            result.notes.append(f"could not read ONNX Runtime's node placement: {first_line(exc, 400)}")
    finally:
        shutil.rmtree(profile_dir, ignore_errors=True)
    if not result.outputs:
        first_set, message = next(iter(result.errors.items()))
        node = node_in_message(message)
        raise OnnxRuntimeError(
            f"ONNX Runtime failed on every input set; on '{first_set}': {message}",
            stage=STAGE,
            location=Location(node=node) if node else None,
        )
    return result


def chunked_intermediates(
    model: onnx.ModelProto | Path,
    tensors: list[str],
    feeds: dict[str, np.ndarray],
    nbytes: dict[str, int],
    budget_bytes: int,
) -> Iterator[dict[str, np.ndarray]]:
    """Values of ``tensors`` on ``feeds``, a chunk at a time (at most ``budget_bytes`` each, by the
    estimates in ``nbytes``), so a large model's intermediates are never all in memory at once."""
    chunk: list[str] = []
    size = 0
    for name in [*tensors, None]:
        if name is not None and (not chunk or size + nbytes.get(name, 0) <= budget_bytes):
            chunk.append(name)
            size += nbytes.get(name, 0)
            continue
        if chunk:
            sess = session(model, chunk)
            values = sess.run(chunk, dict(feeds))
            del sess
            yield dict(zip(chunk, values, strict=True))
        if name is not None:
            chunk, size = [name], nbytes.get(name, 0)
