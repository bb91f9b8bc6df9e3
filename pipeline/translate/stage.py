"""The translator's stages in a conversion (called from :mod:`pipeline.flow` with a line each).

1. TensorFlow worker (:func:`translate_in_tf`): translate the Keras model; write ``model.py``,
   ``model.safetensors`` (``safetensors.numpy``: no torch in that process) and
   ``translation.json``; layers no entry translates are exported to ONNX for the fallback.
2. Orchestrator (:func:`module_stage`): complete fallback layers in a torch worker
   (:func:`complete_task`); run model.py's module on every input set in a clean process where
   TensorFlow, Keras, ONNX, onnx2torch and this package cannot be imported
   (``module_check.py``); export ``model.pt2`` from the module when it matches TensorFlow.
3. Validation: the module is a fourth runtime (``module``), compared with TensorFlow.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipeline.context import StageRecord, Workspace, timed
from pipeline.worker import Task

TRANSLATION = "translation.json"
MODEL_PY = "model.py"
OUTPUTS = "outputs_module.npz"
CHECK_SCRIPT = Path(__file__).with_name("module_check.py")


def translation_path(root: Path) -> Path:
    return Path(root) / TRANSLATION


def read_translation(root: Path) -> dict[str, Any] | None:
    path = translation_path(root)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def translate_in_tf(loaded: Any, config: Any, ws: Workspace, stages: list[StageRecord]) -> None:
    """TensorFlow worker: translate ``loaded.keras_model`` (when there is one) into the workspace."""
    from pipeline.translate.fallback import OnnxFallback

    info: dict[str, Any] = {"status": "none", "name": loaded.name}
    if loaded.keras_model is None:
        info["reason"] = "the source has no Keras layer graph"
        _write(ws.root, info)
        return
    with timed(stages, "translate"):
        from safetensors.numpy import save_file

        from pipeline.translate import translate_model

        fallback = OnnxFallback(ws.scratch / "fallback", config.opset)
        try:
            code = translate_model(
                loaded.keras_model,
                layout=config.layout,
                input_names=[s.name for s in loaded.inputs],
                fallback=fallback,
            )
        except Exception as exc:  # the ONNX route still converts the model; the report says why
            info.update(status="failed", reason=f"{type(exc).__name__}: {str(exc).strip()[:500]}")
            _write(ws.root, info)
            return
        (ws.root / MODEL_PY).write_text(code.source, encoding="utf-8")
        save_file(code.weights, str(ws.weights))
        info = {
            "status": "pending" if fallback.pending else "translated",
            "name": loaded.name,
            "class_name": code.class_name,
            "layout": config.layout,
            "inputs": [s.name for s in loaded.inputs],
            "outputs": list(loaded.outputs),
            "output_keys": code.output_keys,
            "layers": code.layers,
            "weight_map": code.weight_map,
            "buffers": sorted(code.buffers),
            "fallbacks": fallback.pending,
            "logits": _logits_attrs(loaded, code),
        }
        _write(ws.root, info)


def _logits_attrs(loaded: Any, code: Any) -> dict[str, str]:
    """Output -> the attribute whose module gives its logits (a Dense/Conv whose softmax is applied
    on its result in forward()), so the module's logits are compared as TensorFlow's are."""
    from pipeline.translate.graph import flat_outputs

    tensors, _ = flat_outputs(loaded.keras_model)
    found = {}
    for name in loaded.logits_outputs:
        if name not in loaded.outputs:
            continue
        history = getattr(tensors[loaded.outputs.index(name)], "_keras_history", None)
        attr = code.attrs.get(id(history[0])) if history is not None else None
        if attr and f"torch.softmax(self.{attr}(" in code.source:
            found[name] = attr
    return found


def _write(root: Path, info: dict[str, Any]) -> None:
    path = translation_path(root)  # whole or not at all: the TensorFlow worker may read it meanwhile (overlap.py)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(info, indent=1), encoding="utf-8")
    partial.replace(path)


def complete_task(request: dict[str, Any]) -> dict[str, Any]:
    """Torch worker: turn the pending fallback layers into torch code in model.py."""
    from pipeline.translate.fallback import CannotEmit, complete

    ws = Workspace(Path(request["workspace"]))
    info = read_translation(ws.root) or {}
    try:
        records = complete(ws.root / MODEL_PY, ws.weights, info.get("fallbacks", []), ws.scratch / "fallback")
    except CannotEmit as exc:  # an expected limit, not a fault: model.py is withdrawn with this reason
        return {"cannot_emit": str(exc)}
    for piece in info.get("fallbacks", []):
        piece.update(records.get(piece["attr"], {}))
        info.setdefault("weight_map", {}).update(piece.get("weight_map", {}))
        info["buffers"] = sorted(set(info.get("buffers", [])) | set(piece.get("buffers", [])))
        piece["onnx"] = Path(piece["onnx"]).name
    info["status"] = "translated"
    _write(ws.root, info)
    return {"completed": sorted(records)}


def module_stage(conv: Any) -> None:
    """Complete fallbacks, run the module in a clean process, keep its ``model.pt2`` when it matches."""
    ws = conv.workspace
    info = read_translation(ws.root)
    from pipeline.ahead import started_ahead

    checked = (ws.root / OUTPUTS).is_file() and not started_ahead(ws)  # (by the call before this one)
    if not info or info.get("status") not in ("translated", "pending") or checked:
        return
    if info["status"] == "pending":
        try:
            done = conv.run_task(TRANSLATE_FALLBACK, stage="translate", in_process=False)
        except Exception as exc:  # the ONNX route remains; model.py is withdrawn
            _withdraw(ws, info, f"fallback layers could not be completed: {exc}")
            return
        if done.get("cannot_emit"):
            _withdraw(ws, info, f"a fallback layer cannot be written as plain torch code: {done['cannot_emit']}")
            conv.notes.append(f"model.py withdrawn (model.pt2 from the ONNX route): {done['cannot_emit']}")
            return
        info = read_translation(ws.root) or info
    result = run_module(ws, conv.export, info, conv.config.timeout_s)
    conv.stages.append(StageRecord(name="module_run", seconds=result.get("seconds", 0.0)))
    if result.get("crash"):
        conv.run_errors["module"] = {s: result["crash"] for s in _set_names(ws)}
        conv.notes.append(f"model.py did not run: {result['crash']}")
        return
    if result.get("errors"):
        conv.run_errors["module"] = result["errors"]
    info["check"] = {k: v for k, v in result.items() if k != "export_trace"}
    _write(ws.root, info)
    matches = _matches_tf(conv)
    if not matches and ws.outputs_tf.is_file() and conv.config.localize != "never" and not result.get("errors"):
        localize_module(conv, info)
    same_layout = info.get("layout", "keras") == "keras"  # model.pt2 keeps the Keras model's layout
    if conv.torch is None and not conv.given and same_layout and matches and result.get("export"):
        from importlib.metadata import version

        import numpy as np

        from pipeline.context import TorchResult

        shutil.move(result["export"], ws.pt2)
        conv.notes.append("model.pt2 exported from model.py's module (Keras layer names)")
        with np.load(ws.root / OUTPUTS) as values:  # the program's logits are the module's
            logits = {k: values[k] for k in values.files if k.endswith(":logits")}
        if logits:
            np.savez(ws.probes_torch, **logits)
        conv.module_program = True
        conv.torch = TorchResult(
            dynamic_batch=bool(result.get("export_dynamic")),
            parameters=int(result.get("state_elements", 0)),
            weight_bytes=ws.weights.stat().st_size,
            versions={"torch": version("torch")},
        )
    elif result.get("export_error"):
        conv.notes.append(f"model.pt2 from the ONNX route: model.py's module did not export: {result['export_error']}")


def localize_module(conv: Any, info: dict[str, Any]) -> None:
    """The first Keras layer whose output differs from model.py's attribute of that name."""
    from pipeline.translate.localize import TRANSLATE_LAYERS_TF, compare_layers

    ws = conv.workspace
    names = _set_names(ws)
    set_name = "random" if "random" in names else names[0]
    order = [(r["layer"], r["class"], r["attribute"]) for r in info.get("layers", []) if r.get("attribute")]
    moved = {r["attribute"] for r in info.get("layers", []) if r.get("channels_first")}
    tf_out, module_out = ws.scratch / "layers_tf.npz", ws.scratch / "layers_module.npz"
    try:
        conv.run_task(
            TRANSLATE_LAYERS_TF,
            stage="translate",
            in_process=conv.in_process_tf,
            inputs=str(ws.inputs),
            set=set_name,
            layers=[layer for layer, _, _ in order],
            out=str(tf_out),
        )
        hooks = {
            "mode": "layers",
            "set": set_name,
            "attributes": [a for _, _, a in order],
            "hooks_path": _absolute(module_out),
        }
        run_module(ws, conv.export, {**info, **hooks}, conv.config.timeout_s)
        if not tf_out.is_file() or not module_out.is_file():
            raise RuntimeError("no layer outputs to compare")
        found = compare_layers(tf_out, module_out, order, moved)
    except Exception as exc:  # localisation is a diagnosis: its failure must not hide the verdict
        info["localization"] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        _write(ws.root, info)
        return
    info["localization"] = found
    _write(ws.root, info)
    first = found.get("first_layer")
    if first:
        conv.notes.append(
            f"model.py first differs from TensorFlow at Keras layer '{first['layer']}' ({first['class']}, "
            f"attribute {first['attribute']}): {first['error_in_spreads']:.3g} x the output's spread"
        )


def module_program_used(conv: Any) -> bool:
    """Whether model.pt2 already came from model.py (the ONNX route's torch import is then skipped)."""
    return bool(getattr(conv, "module_program", False))


def _withdraw(ws: Workspace, info: dict[str, Any], reason: str) -> None:
    (ws.root / MODEL_PY).unlink(missing_ok=True)
    ws.weights.unlink(missing_ok=True)
    info.update(status="failed", reason=reason[:500])
    _write(ws.root, info)


def _set_names(ws: Workspace) -> list[str]:
    import numpy as np

    with np.load(ws.inputs, allow_pickle=False) as data:
        return sorted({k.split("/", 1)[0] for k in data.files})


def run_module(ws: Workspace, export: Any, info: dict[str, Any], timeout_s: float | None) -> dict[str, Any]:
    """Run ``module_check.py`` on the workspace in a clean process; its result as a dict."""
    from pipeline.ahead import module_run_ahead

    request = module_request(ws, export, info)
    ahead = module_run_ahead(ws, request)  # the same check, started as soon as model.py was written
    return ahead if ahead is not None else module_process(ws, request, timeout_s)


def module_request(ws: Workspace, export: Any, info: dict[str, Any]) -> dict[str, Any]:
    """The request ``module_check.py`` reads: the workspace's files, the export's inputs and outputs."""
    ws.scratch.mkdir(parents=True, exist_ok=True)
    return {
        "model_py": _absolute(ws.root / MODEL_PY),
        "weights": _absolute(ws.weights),
        "input_sets": _absolute(ws.inputs),
        "inputs": [s.name for s in export.inputs],
        "outputs": list(export.outputs),
        "output_keys": info.get("output_keys"),
        "logits": info.get("logits") or {},
        "layout": info.get("layout") or "keras",
        "outputs_path": _absolute(ws.root / OUTPUTS),
        "export_path": _absolute(ws.scratch / "module.pt2"),
        "batch_axes": [s.batch_axis for s in export.inputs],
        "result_path": _absolute(ws.scratch / "module_check.json"),
        **{k: info[k] for k in ("mode", "set", "attributes", "hooks_path") if k in info},
    }


def module_check_command(request_path: Path | str) -> list[str]:
    """The command line of the clean-process check (``--wait``: read the request path from stdin)."""
    return [sys.executable, str(CHECK_SCRIPT), str(request_path)]


def module_process(ws: Workspace, request: dict[str, Any], timeout_s: float | None) -> dict[str, Any]:
    """``module_check.py`` on ``request``: the process started ahead for it (:mod:`pipeline.prestart`),
    else a fresh interpreter; its result as a dict."""
    from pipeline import prestart

    request_path = (ws.scratch / "module_check_request.json").resolve()
    request_path.write_text(json.dumps(request), encoding="utf-8")
    Path(request["result_path"]).unlink(missing_ok=True)  # (an earlier check's result is no answer to this one)
    start = time.perf_counter()
    ws.logs.mkdir(parents=True, exist_ok=True)
    log_path = ws.logs / "module_check.log"
    proc = prestart.hand("module_check", log_path, [str(request_path)])
    if proc is None:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                module_check_command(request_path), stdout=log, stderr=subprocess.STDOUT, cwd=str(ws.scratch)
            )
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return {"crash": f"timed out after {timeout_s} s", "seconds": time.perf_counter() - start}
    seconds = round(time.perf_counter() - start, 3)
    result_path = Path(request["result_path"])
    if proc.returncode != 0 or not result_path.is_file():
        tail = (ws.logs / "module_check.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return {"crash": (tail[-1] if tail else f"exit code {proc.returncode}")[:400], "seconds": seconds}
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result["seconds"] = seconds
    return result


def _absolute(path: Path) -> str:
    """``path`` as the check script sees it: it runs in the scratch folder, so a relative output
    folder (``--out out/x``) would point nowhere there."""
    return str(Path(path).resolve())


def module_outputs(ws: Workspace) -> Any:
    """The module's outputs (for validation), or None when it did not run."""
    from pipeline.inputs import load_sets

    path = ws.root / OUTPUTS
    return load_sets(path) if path.is_file() else None


def _matches_tf(conv: Any) -> bool:
    from pipeline.inputs import load_sets
    from pipeline.stages.validate import compare_runs

    ws = conv.workspace
    candidate = module_outputs(ws)
    if candidate is None or not ws.outputs_tf.is_file() or conv.run_errors.get("module"):
        return False
    reference = load_sets(ws.outputs_tf)
    reference = {s: {k: v for k, v in values.items() if not k.endswith(":logits")} for s, values in reference.items()}
    return bool(compare_runs(candidate, reference, conv.config.tolerance_for).passed)


def write_whole_model(program: Any, ws: Workspace, specs: list[Any]) -> None:
    """Torch worker: a source with no Keras layer graph gets its whole program as model.py."""
    import numpy as np
    from safetensors.numpy import save_file

    from pipeline.translate.codegen import class_name
    from pipeline.translate.fallback import CannotEmit, program_class, with_graph_names

    info = read_translation(ws.root) or {"status": "none"}
    if info.get("status") in ("translated", "pending"):
        return
    name = str(info.get("name") or ws.root.name.split(".partial")[0].lstrip(".") or "model")
    cls = class_name(name)
    outputs = len(program.graph_signature.user_outputs)
    doc = f"{name} through the ONNX route (TensorFlow -> ONNX -> torch.export): its ATen graph as torch code."
    try:
        text, tensors, buffers = program_class(program, cls, "", doc, single=outputs == 1)
    except CannotEmit as exc:  # no model.py; the ONNX route's model.pt2 stays
        earlier = f"{info['reason']}; " if info.get("reason") else ""
        info.update(status="failed", reason=f"{earlier}the whole program as model.py: {exc}"[:500])
        _write(ws.root, info)
        return
    source = "\n".join(
        [
            f'"""{name}, translated to PyTorch by keras2torch through ONNX (no Keras layer graph)."""',
            "",
            "from pathlib import Path",
            "",
            "import torch",
            "from safetensors.torch import load_file",
            "from torch import nn",
            "",
            "",
            text,
            "",
            "",
            "def load(path=None):",
            f'    """A {cls} with the weights of model.safetensors (beside this file by default), in eval mode."""',
            '    path = Path(path) if path is not None else Path(__file__).with_name("model.safetensors")',
            f"    model = {cls}()",
            "    model.load_state_dict(load_file(str(path)))",
            "    return model.eval()",
            "",
        ]
    )
    (ws.root / MODEL_PY).write_text(with_graph_names(source), encoding="utf-8")
    save_file({k: np.ascontiguousarray(v.numpy()) for k, v in tensors.items()}, str(ws.weights))
    rows = [
        {"layer": name, "class": "(whole model)", "attribute": "", "method": "onnx", "reason": info.get("reason", "")}
    ]
    info.update(status="translated", class_name=cls, layers=rows, buffers=buffers, weight_map={}, layout="keras")
    info.update(inputs=[s.name for s in specs], output_keys=None, fallbacks=[])
    _write(ws.root, info)


TRANSLATE_FALLBACK = Task("translate_fallback", complete_task)
