"""Stages that do not depend on each other run at the same time, on the machine's two cores.

After the fixups, ONNX Runtime (in this process) and the torch import, export and check (in
their workers) need only the fixed graph and the inputs; run one after the other they leave a
core idle. :func:`alongside` runs ONNX Runtime in a thread while the torch stages run, and raises
the first stage's error first, as the sequential order would. :func:`prestart_workers` starts the
torch workers when the conversion starts (:mod:`pipeline.prestart`), so that their imports
overlap the TensorFlow side.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pipeline import prestart
from pipeline.worker import child_env


def prestart_workers(conv: Any) -> None:
    """Start the torch workers of ``conv`` ahead of their stages, when they will run in workers at all."""
    if conv.error is not None or conv.in_process_torch:
        return
    tasks = ["torch_check"] if "torch" in conv.given else ["torch", "torch_check"]
    prestart.begin(tasks, conv.workspace.logs, child_env())


def alongside(conv: Any, side: Callable[[Any], None], main: list[Callable[[Any], None]]) -> None:
    """Run ``side(conv)`` in a thread while ``main`` runs here; errors in stage order (``side`` first).

    In-process torch stages (the Python API with torch already imported) run after ``side``, as before.
    """
    if conv.in_process_torch:
        side(conv)
        for stage in main:
            stage(conv)
        return
    failure: list[BaseException] = []

    def run_side() -> None:
        try:
            side(conv)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run_side, name="onnxruntime", daemon=True)
    thread.start()
    try:
        for stage in main:
            stage(conv)
    except BaseException:
        thread.join()
        if failure:
            raise failure[0] from None
        raise
    thread.join()
    if failure:
        raise failure[0]
