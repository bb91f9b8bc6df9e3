"""Stages started as soon as their inputs exist, not at their turn in the flow.

* model.py's clean-process check (``module_run``) needs only ``model.py``, ``model.safetensors``
  and the input sets, all written by the TensorFlow worker before it hands over:
  :func:`pipeline.overlap.start_module_run` starts it then (:func:`register`), beside the TensorFlow
  reference, the fixups and ONNX Runtime; :func:`module_run_ahead` hands its result to the
  module stage when that stage asks for the same check. The comparison with TensorFlow, and
  whether ``model.pt2`` comes from the module, are still decided at the module stage's turn.
* the training check's torch half needs only the TensorFlow half's files and model.py's check:
  :class:`Later` runs it in a thread beside the validation (started after the ``model.pt2`` check:
  the progress line shows the stage announced last, and the ``model.pt2`` check's would not be seen).

The checks themselves are the same as at their turn (same processes, same requests, same
comparisons): only when they start changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Run:
    request: dict[str, Any]
    thread: threading.Thread
    result: list[dict[str, Any]] = field(default_factory=list)


_AHEAD: dict[str, _Run] = {}
_LOCK = threading.Lock()


def register(ws: Any, request: dict[str, Any], thread: threading.Thread, found: list[dict[str, Any]]) -> None:
    """Record the check of ``ws`` that ``thread`` runs on ``request`` (its result goes to ``found``)."""
    with _LOCK:
        _AHEAD[str(ws.root)] = _Run(request=request, thread=thread, result=found)


def module_run_ahead(ws: Any, request: dict[str, Any]) -> dict[str, Any] | None:
    """The result of the check started ahead for ``ws`` when it ran ``request``; None when none was
    started, it asked something else, or it failed (the caller then runs the check itself)."""
    with _LOCK:
        run = _AHEAD.pop(str(ws.root), None)
    if run is None:
        return None
    run.thread.join()  # (also when it ran another request: the two must not write the same files at once)
    return run.result[0] if run.result and run.request == request else None


def started_ahead(ws: Any) -> bool:
    """Whether a check was started ahead for ``ws`` and no stage has taken its result yet."""
    with _LOCK:
        return str(ws.root) in _AHEAD


def wait_all(ws: Any, join: bool = True) -> None:
    """Wait for a check started ahead for ``ws`` that no stage took (the conversion failed before);
    ``join=False``: forget it (interrupted)."""
    with _LOCK:
        run = _AHEAD.pop(str(ws.root), None)
    if run is not None and join:
        run.thread.join()


class Later:
    """``stage(conv)`` started at :meth:`start` in a thread and waited for at :meth:`join`, which raises its
    error; in this process's torch mode (the Python API) it runs at :meth:`join`, as before."""

    def __init__(self, stage: Callable[[Any], None]) -> None:
        self.stage = stage
        self.thread: threading.Thread | None = None
        self.failure: list[BaseException] = []

    def start(self, conv: Any) -> None:
        if conv.in_process_torch:
            return

        def run() -> None:
            try:
                self.stage(conv)
            except BaseException as exc:
                self.failure.append(exc)

        self.thread = threading.Thread(target=run, name=getattr(self.stage, "__name__", "stage"), daemon=True)
        self.thread.start()

    def join(self, conv: Any) -> None:
        """Wait for the stage (run it here if it was not started in a thread); raise its error."""
        if self.thread is None:
            self.stage(conv)
            return
        self.wait()
        if self.failure:
            raise self.failure.pop(0)

    def wait(self) -> None:
        """Wait for the thread, if one runs (the conversion failed elsewhere meanwhile)."""
        if self.thread is not None:
            self.thread.join()
