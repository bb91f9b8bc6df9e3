"""Stages that do not depend on each other run at the same time, on the machine's two cores.

After the fixups, ONNX Runtime (in this process) and the torch import, export and check (in
their workers) need only the fixed graph and the inputs; run one after the other they leave a
core idle. :func:`alongside` runs ONNX Runtime in a thread while the torch stages run, and raises
the first stage's error first, as the sequential order would. :func:`prestart_workers` starts the
torch workers when the conversion starts (:mod:`pipeline.prestart`), so that their imports
overlap the TensorFlow side.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from pipeline import prestart
from pipeline.worker import child_env

POLL_S = 0.02


MODULE_CHECK = "module_check"  # model.py's clean-process check (pipeline/translate/module_check.py)


BESIDE_NICE = 5  # niceness of the checks that run beside the TensorFlow worker (see prestart_workers)


def prestart_workers(conv: Any, tasks: tuple[str, ...] = ("torch", "torch_check"), beside: bool = False) -> None:
    """Start the torch workers of ``conv`` ahead of their stages, when they will run in workers at all.

    A stage that will not run (``torch`` when a torch program is given to validate, model.py's
    check when nothing is exported) gets none. model.py's check, and the workers started with
    ``beside``, run beside the TensorFlow worker, whose chain (export, reference, the training
    check's TensorFlow half) is what the conversion waits for; they have time to spare until it
    ends, so they run at niceness :data:`BESIDE_NICE` and take the cores it leaves idle (the
    torch imports and the warm-up export of the waiting model.py check otherwise compete with
    TensorFlow's import and export).
    """
    if conv.error is not None or conv.in_process_torch:
        return
    wanted = [t for t in tasks if not (t == "torch" and "torch" in conv.given)]
    nice = {prestart.NICE_ENV: str(BESIDE_NICE)}
    if MODULE_CHECK in wanted:
        wanted.remove(MODULE_CHECK)
        if not conv.given and conv.source.has_tensorflow_side:
            from pipeline.translate.stage import module_check_command

            ws = conv.workspace
            argv = module_check_command("--wait")
            log = ws.logs / "module_check.log"
            prestart.begin_command(MODULE_CHECK, argv, log, {**child_env(), **nice}, cwd=ws.scratch)
    prestart.begin(wanted, conv.workspace.logs, {**child_env(), **(nice if beside else {})})


def start_module_run(conv: Any) -> bool:
    """Start model.py's check of ``conv`` in a thread when model.py is complete (no fallback layer to
    finish first), for the module stage to take (:mod:`pipeline.ahead`); True when it started. The
    training check's torch worker is started ahead after it."""
    from pipeline import ahead
    from pipeline.translate.stage import OUTPUTS, module_process, module_request, read_translation

    ws = conv.workspace
    info = read_translation(ws.root)
    if conv.export is None or not info or info.get("status") != "translated" or (ws.root / OUTPUTS).is_file():
        return False
    request = module_request(ws, conv.export, info)
    training = bool(getattr(conv.config, "check_training", True)) and not conv.in_process_torch
    found: list[dict[str, Any]] = []

    def target() -> None:
        try:
            found.append(module_process(ws, request, conv.config.timeout_s))
        finally:
            if training:  # its imports overlap the TensorFlow half of the training check
                prestart.begin(["training_torch"], ws.logs, child_env())

    thread = threading.Thread(target=target, name="module_run", daemon=True)
    ahead.register(ws, request, thread, found)
    thread.start()
    return True


def after_hand_over(conv: Any) -> None:
    """Once the export and model.py are written: start model.py's check (:mod:`pipeline.ahead`) and the
    torch workers the next stages need; the ONNX route's import only when model.py cannot stand in."""
    if start_module_run(conv):
        prestart_workers(conv, ("torch_check",), beside=True)  # it runs beside the training check's TF half
    else:
        prestart_workers(conv, ("torch", "torch_check"))


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


EXPORT_MARKER = "export.json"  # in the workspace's scratch folder


def hand_over(ws: Any, export_result: dict[str, Any]) -> None:
    """In the TensorFlow worker: publish the export's result before computing the reference."""
    path = ws.scratch / EXPORT_MARKER
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(export_result), encoding="utf-8")
    tmp.replace(path)


# what this process imports for the stages after the export (sympy, for symbolic shape inference, 0.8 s)
WARM = ("onnx", "onnxruntime", "pipeline.fixups", "pipeline.stages.onnxruntime_run", "pipeline.stages.validate")


def warm_imports() -> None:
    """Import, while the TensorFlow worker runs, what the later stages of this process need."""
    import importlib

    from pipeline.onnx_utils import symbolic_shape_tool

    for module in WARM:
        importlib.import_module(module)
    symbolic_shape_tool()


OVERLAP_WEIGHT_BYTES = 256 << 20  # see TensorflowSide.until_reference


class TensorflowSide:
    """The TensorFlow stage in a thread, handing over when the ONNX export is written.

    The TensorFlow reference (``tf_reference``, 1.5-3 s on ResNet50) is needed only by the final
    comparison: the worker publishes its export result first (:func:`hand_over`) and the
    fixups, ONNX Runtime and torch stages start while it computes the reference. :meth:`finish`
    waits for the worker and raises its error. In this process (the Python API), or when no
    export is made, the stage runs as before.
    """

    def __init__(self, conv: Any) -> None:
        self.conv = conv
        self.thread: threading.Thread | None = None
        self.failure: list[BaseException] = []

    def until_export(self, stage: Callable[[Any], None]) -> None:
        conv = self.conv
        if conv.in_process_tf or "onnx" in conv.given:
            stage(conv)
            if conv.error is None and not conv.given:
                after_hand_over(conv)
            return
        from pipeline.context import ExportResult, from_json

        marker = conv.workspace.scratch / EXPORT_MARKER
        marker.unlink(missing_ok=True)

        def run() -> None:
            try:
                stage(conv)
            except BaseException as exc:
                self.failure.append(exc)

        self.thread = threading.Thread(target=run, name="tensorflow", daemon=True)
        self.thread.start()
        warm_imports()
        while self.thread.is_alive() and not marker.is_file():
            time.sleep(POLL_S)
        if not self.thread.is_alive():
            self.finish()
            return
        early = from_json(ExportResult, json.loads(marker.read_text(encoding="utf-8")))
        if conv.export is None:  # (the thread may have finished meanwhile and set the full result)
            conv.export = early
        after_hand_over(conv)  # not sooner: fewer imports compete with TensorFlow's

    def until_reference(self, conv: Any) -> None:
        """Wait until the worker has written TensorFlow's outputs, which is all that model.py's comparison
        and the torch program's run need: they then run beside the training check's TensorFlow half
        (about 20 s on ResNet50) instead of after it. Raises the worker's error if it ends without them.

        A model with more than :data:`OVERLAP_WEIGHT_BYTES` of weights waits for the whole worker, as
        before: beside the TensorFlow half's own copies of the weights, another process holding them
        could take the conversion past its memory cap. So does a model.py with fallback layers to
        complete: completing them rewrites model.py, which the TensorFlow half appends its training code to.
        """
        from pipeline.translate.stage import read_translation

        weights = conv.export.weight_bytes if conv.export is not None else 0
        pending = (read_translation(conv.workspace.root) or {}).get("status") == "pending"
        if self.thread is None or weights > OVERLAP_WEIGHT_BYTES or pending:
            self.finish()
            return
        reference = conv.workspace.outputs_tf
        while self.thread.is_alive() and not reference.is_file():
            time.sleep(POLL_S)
        if not reference.is_file():
            self.finish()

    def finish(self) -> None:
        """Wait for the worker; raise its error; its stage records first in the report, as they ran."""
        self.join()
        if self.failure:
            raise self.failure.pop(0)
        stages = self.conv.stages
        if self.conv.export is not None:
            own = [s for s in stages if any(s is t for t in self.conv.export.stages)]
            stages[:] = own + [s for s in stages if not any(s is t for t in own)]

    def finish_stage(self, conv: Any) -> None:
        """:meth:`finish` in the form of a stage (a function of the conversion)."""
        self.finish()

    def join(self) -> None:
        """Wait for the worker, if it is still running (the conversion failed elsewhere meanwhile)."""
        if self.thread is not None:
            self.thread.join()
            self.thread = None
