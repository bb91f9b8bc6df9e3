"""Run a translated ``model.py`` where only torch and safetensors can be imported.

Run as a script (``python module_check.py <request.json>``), never imported: it proves that
``model.py`` needs neither TensorFlow, Keras, ONNX, onnx2torch nor this package. It loads the
module with ``load()``, runs it on every input set, writes the outputs (``<set>/<output>`` keys)
and exports it with ``torch.export`` (dynamic batch where the inputs have one).

``python module_check.py --wait`` blocks the same packages, imports torch, then reads the request
path from its stdin: started ahead of its stage (:mod:`pipeline.prestart`), it imports while
TensorFlow exports, and it is as clean as a process started for the request.
"""

import importlib.util
import json
import os
import sys
import time
import traceback
import warnings

BLOCKED = ("tensorflow", "keras", "tf_keras", "onnx", "onnx2torch", "onnxruntime", "pipeline", "custom_ops")


def block() -> None:
    """Make every blocked package unimportable (a None entry in sys.modules makes import raise)."""
    for name in BLOCKED:
        if name in sys.modules:
            raise RuntimeError(f"{name} is already imported")
        sys.modules[name] = None  # type: ignore[assignment]


def _nchw(array, layout):
    """An input as model.py takes it: image-like float inputs NCHW under ``layout: channels_first``."""
    import numpy as np

    if layout == "channels_first" and array.ndim >= 3 and array.dtype.kind == "f":
        return np.ascontiguousarray(np.moveaxis(array, -1, 1))
    return np.ascontiguousarray(array)


def _nhwc(array, layout):
    """An output back in the Keras layout, to compare with TensorFlow's."""
    import numpy as np

    if layout == "channels_first" and array.ndim >= 3 and array.dtype.kind == "f":
        return np.moveaxis(array, 1, -1)
    return array


def _flat(result, names, keys):
    import torch

    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, dict):
        return [result[k] for k in (keys or names)]
    return list(result)


def preload() -> None:
    """What every check imports first (torch and its exporter, numpy, safetensors), imported ahead.

    ``torch.export`` imports most of its machinery (``torch.export._trace``, ``torch._dynamo``, sympy,
    parts of inductor) and fills its tables on its first export, not on ``import torch.export``:
    2.5-4 s that ResNet50's check paid after its request came. A small module with a dynamic batch,
    exported and saved here, pays them while the process waits.
    """
    import io

    import numpy  # noqa: F401
    import safetensors.torch  # noqa: F401
    import torch
    import torch.export

    try:
        warm = torch.nn.Sequential(torch.nn.Conv2d(2, 2, 1), torch.nn.BatchNorm2d(2), torch.nn.ReLU()).eval()
        batch = torch.export.Dim("batch", min=1, max=1 << 20)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.export(warm, (torch.zeros(2, 2, 3, 3),), dynamic_shapes=({0: batch},), strict=False)
        torch.export.save(program, io.BytesIO())
    except Exception as exc:  # only a warm-up: the check itself reports what fails
        print(f"warming torch.export up: {type(exc).__name__}: {exc}", flush=True)


def main(request_path: str, blocked: bool = False) -> int:
    if not blocked:
        block()
    import numpy as np
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    with open(request_path, encoding="utf-8") as handle:
        request = json.load(handle)
    result = {"errors": {}, "export": None, "export_error": None}
    start = time.perf_counter()
    spec = importlib.util.spec_from_file_location("keras2torch_model", request["model_py"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.load(request["weights"])
    result["load_s"] = round(time.perf_counter() - start, 3)
    names, keys, inputs = request["outputs"], request.get("output_keys"), request["inputs"]
    layout = request.get("layout") or "keras"
    if request.get("mode") == "layers":
        return _layers(model, request, inputs)
    data = np.load(request["input_sets"], allow_pickle=False)
    sets: dict = {}
    for key in data.files:
        set_name, name = key.split("/", 1)
        sets.setdefault(set_name, {})[name] = data[key]
    outputs = {}
    captured: dict = {}
    hooks = [
        getattr(model, attr).register_forward_hook(lambda _m, _i, out, key=name: captured.__setitem__(key, out))
        for name, attr in (request.get("logits") or {}).items()  # the logits behind a softmax head
    ]
    run_start = time.perf_counter()
    with torch.no_grad():
        for set_name, arrays in sets.items():
            try:
                args = [torch.from_numpy(_nchw(arrays[n], layout)) for n in inputs]
                values = _flat(model(*args), names, keys)
                if len(values) != len(names):
                    raise ValueError(f"forward() returns {len(values)} outputs, the model has {len(names)}")
                for name, value in zip(names, values, strict=True):
                    outputs[f"{set_name}/{name}"] = _nhwc(value.detach().cpu().numpy(), layout)
                for name, value in captured.items():
                    outputs[f"{set_name}/{name}:logits"] = value.detach().cpu().numpy()
            except Exception as exc:  # a set the module cannot run: recorded, the pair fails
                result["errors"][set_name] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"
    result["run_s"] = round(time.perf_counter() - run_start, 3)
    for hook in hooks:
        hook.remove()
    np.savez(request["outputs_path"], **outputs)
    result["parameters"] = sum(int(p.numel()) for p in model.parameters())
    result["trainable"] = sum(int(p.numel()) for p in model.parameters() if p.requires_grad)
    result["state_elements"] = sum(int(t.numel()) for t in model.state_dict().values())
    result["batch_norms"] = sum(1 for m in model.modules() if "BatchNorm" in type(m).__name__)
    if request.get("export_path") and not result["errors"]:
        result.update(_export(model, sets, inputs, request))
    print(json.dumps(result))
    with open(request["result_path"], "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


def _layers(model, request, inputs) -> int:
    """Each named attribute's output (its first call) on one input set, for localisation."""
    import numpy as np
    import torch

    data = np.load(request["input_sets"], allow_pickle=False)
    args = [torch.from_numpy(_nchw(data[f"{request['set']}/{n}"], request.get("layout"))) for n in inputs]
    captured: dict = {}

    def keep(name):
        def hook(_module, _inputs, output):
            if name not in captured and isinstance(output, torch.Tensor):
                captured[name] = output.detach().cpu().numpy()

        return hook

    for name in request["attributes"]:
        sub = getattr(model, name, None)
        if isinstance(sub, torch.nn.Module):
            sub.register_forward_hook(keep(name))
    with torch.no_grad():
        model(*args)
    np.savez(request["hooks_path"], **captured)
    with open(request["result_path"], "w", encoding="utf-8") as handle:
        json.dump({"layers": sorted(captured)}, handle)
    return 0


def _export(model, sets, inputs, request) -> dict:
    import torch

    first = sets.get("random") or next(iter(sets.values()))
    example = tuple(torch.from_numpy(_nchw(first[n], request.get("layout"))) for n in inputs)
    batch_axes = request.get("batch_axes") or [None] * len(inputs)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dynamic = None
            if any(a is not None for a in batch_axes):
                batch = torch.export.Dim("batch", min=1, max=1 << 20)
                dynamic = tuple({a: batch} if a is not None else None for a in batch_axes)
            try:
                program = torch.export.export(model, example, dynamic_shapes=dynamic, strict=False)
                dynamic_ok = dynamic is not None
            except Exception:
                program = torch.export.export(model, example, strict=False)
                dynamic_ok = False
        torch.export.save(program, request["export_path"])
        return {"export": request["export_path"], "export_dynamic": dynamic_ok}
    except Exception as exc:
        return {
            "export_error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}",
            "export_trace": traceback.format_exc()[-2000:],
        }


if __name__ == "__main__":
    if sys.argv[1] == "--wait":  # started ahead of its request (pipeline.prestart)
        block()
        try:  # the niceness pipeline.prestart asks for (NICE_ENV there; this script cannot import it)
            os.nice(max(0, int(os.environ.get("KERAS2TORCH_NICE") or 0)))
        except (ValueError, OSError) as exc:
            print(f"could not lower the priority: {exc}", flush=True)
        preload()
        line = sys.stdin.readline().strip()
        if not line:  # the conversion ended without this check
            sys.exit(0)
        sys.exit(main(line, blocked=True))
    sys.exit(main(sys.argv[1]))
