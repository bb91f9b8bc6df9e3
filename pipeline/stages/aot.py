"""Optional compiled artifact (config ``compile: aot``): an AOTInductor package beside ``model.pt2``.

``torch._inductor.aoti_compile_and_package`` compiles the exported program ahead of time into
``model_aoti.pt2`` (C++ kernels, weights folded in; loaded with ``torch._inductor.aoti_load_package``,
no Python model code). Compiling takes tens of seconds on CPU, so it is opt-in. The package runs
on every input set in the clean torch-check process and must agree with ``model.pt2`` (itself
compared with TensorFlow and ONNX Runtime) within the conversion's tolerance; otherwise the
conversion fails at stage ``aot``. The compile and check seconds are stage records of their own.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import TorchExportError

STAGE = "aot"
PACKAGE = "model_aoti.pt2"


def compile_and_check(
    pt2: Path,
    sets: dict[str, dict[str, np.ndarray]],
    names: list[str],
    reference: dict[str, dict[str, np.ndarray]],
    tolerance_for: Any,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Compile ``pt2`` to :data:`PACKAGE` beside it, run it on ``sets``, compare with ``reference``.

    Returns (stage records as JSON, notes). ``tolerance_for(output) -> Tolerance``.
    """
    import torch

    from pipeline.artifacts import load_program
    from pipeline.stages.validate import compare_arrays

    package = pt2.with_name(PACKAGE)
    start = time.perf_counter()
    try:
        torch._inductor.aoti_compile_and_package(load_program(pt2), package_path=str(package))
    except Exception as exc:
        raise TorchExportError(f"AOTInductor could not compile model.pt2: {_first(exc)}", stage=STAGE) from None
    compiled_s = time.perf_counter() - start
    start = time.perf_counter()
    runner = torch._inductor.aoti_load_package(str(package))
    worst: tuple[float, str] = (0.0, "")
    with torch.no_grad():
        for set_name, arrays in sets.items():
            if set_name not in reference:
                continue  # model.pt2 could not run it either
            result = runner(*[torch.from_numpy(np.ascontiguousarray(a)) for a in arrays.values()])
            result = (result,) if isinstance(result, torch.Tensor) else tuple(result)
            for name, value in zip(names, result, strict=True):
                comparison = compare_arrays(value.detach().numpy(), reference[set_name][name], tolerance_for(name))
                if not comparison.passed:
                    raise TorchExportError(
                        f"{PACKAGE} differs from model.pt2 on set '{set_name}', output '{name}': {comparison}",
                        stage=STAGE,
                    )
                worst = max(worst, (comparison.max_abs_error, f"{set_name}/{name}"))
    checked_s = time.perf_counter() - start
    stages = [
        {"name": "aot_compile", "seconds": round(compiled_s, 3), "status": "ok", "detail": None},
        {"name": "aot_run", "seconds": round(checked_s, 3), "status": "ok", "detail": None},
    ]
    note = f"{PACKAGE}: compiled in {compiled_s:.1f} s, agrees with model.pt2 (max abs error {worst[0]:.3g})"
    return stages, [note]


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
