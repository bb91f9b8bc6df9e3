"""Running one conformance case: through ONNX Runtime (the yardstick), our import stage, or plain onnx2torch.

:func:`worker` is the loop of one worker process of :mod:`pipeline.conformance.pool`: it takes
case indices from its pipe and sends back each stage's outcome as it finishes.
"""

from __future__ import annotations

import os
import time
import warnings
from multiprocessing.connection import Connection

import numpy as np

from pipeline.conformance.cases import Case, compare, short, tolerance


def run_ort(case: Case) -> str | None:
    """Whether ONNX Runtime (CPU) reproduces the case's expected outputs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 4
    try:
        session = ort.InferenceSession(case.model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        for inputs, expected in case.data_sets:
            got = session.run(None, dict(zip(names, inputs, strict=False)))
            error = compare(expected, [np.asarray(g) for g in got], *tolerance(case))
            if error:
                return error
    except Exception as exc:
        return short(exc)
    return None


def run_torch(case: Case, baseline: bool) -> tuple[str | None, bool]:
    """Convert the case's model (ours, or plain onnx2torch) and compare; also says if it warned."""
    import torch

    from custom_ops.common import from_numpy, to_numpy

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if baseline:
                from onnx2torch import convert

                module = convert(case.model)
            else:
                from pipeline import onnx_to_torch

                module = onnx_to_torch(case.model)
        except Exception as exc:
            return "convert: " + short(exc), bool(caught)
        try:
            for inputs, expected in case.data_sets:
                with torch.no_grad():
                    result = module(*[from_numpy(a) for a in inputs])
                outputs = list(result) if isinstance(result, tuple | list) else [result]
                error = compare(expected, [to_numpy(o) for o in outputs], *tolerance(case))
                if error:
                    return error, bool(caught)
        except Exception as exc:
            return "run: " + short(exc), bool(caught)
    warned = any(not issubclass(w.category, DeprecationWarning) for w in caught)
    return None, warned


def worker(conn: Connection, cases: list[Case], baseline: bool) -> None:
    import faulthandler

    import torch

    faulthandler.disable()  # a crashing case is reported by its exit code, not a stack dump

    # torch.fx prints a traceback to stderr for every failing call; the outcome carries the error
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    while True:
        index = conn.recv()
        if index is None:
            return
        case = cases[index]
        ort_error = run_ort(case)
        conn.send(("ort", index, ort_error))
        if ort_error is None:
            start = time.perf_counter()
            conn.send(("ours", index, run_torch(case, baseline=False)))
            conn.send(("seconds", index, time.perf_counter() - start))
            if baseline:
                conn.send(("baseline", index, run_torch(case, baseline=True)))
        conn.send(("done", index, None))
