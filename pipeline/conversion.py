"""One conversion as the stages see it: :class:`Conversion`, and what :func:`pipeline.flow.convert` returns.

Each stage (:mod:`pipeline.stages`) takes the :class:`Conversion`, fills in its part, and runs its
worker task through :meth:`Conversion.run_task`, which records the worker's peak memory. The
properties of the *validate mode* section say, in one place, which artifacts made elsewhere (given
to :func:`pipeline.flow.validate_artifacts`) stand in for which stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import ConversionConfig
from pipeline.context import ExportResult, FixupRecord, StageRecord, TorchResult, Workspace, to_json
from pipeline.errors import PipelineError
from pipeline.sources import Source, SourceKind
from pipeline.worker import Task, WorkerLimits, call

# Model objects handed to the Python API, by id, for the in-process TensorFlow side.
MODEL_OBJECTS: dict[int, Any] = {}


def model_object(source: Source) -> Any:
    """The model object a :attr:`SourceKind.OBJECT` source stands for (None for other sources)."""
    return MODEL_OBJECTS.get(int(source.spec)) if source.kind is SourceKind.OBJECT else None


@dataclass
class Conversion:
    """Everything one conversion has learned so far; each stage fills in its part."""

    source: Source
    config: ConversionConfig
    name: str
    workspace: Workspace
    in_process_tf: bool = False
    in_process_torch: bool = False
    export: ExportResult | None = None
    fixups: list[FixupRecord] = field(default_factory=list)
    probes: dict[str, str] = field(default_factory=dict)  # "<output>:logits" -> ONNX tensor
    providers: list[str] = field(default_factory=list)
    torch: TorchResult | None = None
    torch_device: str | None = None
    validation: dict[str, Any] = field(default_factory=dict)
    stages: list[StageRecord] = field(default_factory=list)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    worker_seconds: dict[str, float] = field(default_factory=dict)  # wall time of each worker call, start-up included
    notes: list[str] = field(default_factory=list)
    error: PipelineError | None = None
    # validation details: input sets that a runtime could not run, ONNX Runtime's node placement,
    # the input sets as run, the verdict (blame + localisation), artifacts given to `validate`
    run_errors: dict[str, dict[str, str]] = field(default_factory=dict)
    ort_placement: dict[str, Any] = field(default_factory=dict)
    input_sets: list[dict[str, Any]] = field(default_factory=list)
    diagnosis: dict[str, Any] | None = None
    given: dict[str, str] = field(default_factory=dict)  # "onnx" / "torch" -> path
    batch: dict[str, Any] | None = None  # set by a batch run: fingerprint and limits (pipeline/batch/)
    training: dict[str, Any] | None = None  # the training check (pipeline/training), "passed" in it

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        verdicts = [p.passed for p in self.validation.values() if p.passed is not None]
        verdicts += [self.training["passed"]] if self.training and self.training.get("passed") is not None else []
        return "passed" if verdicts and all(verdicts) else "failed"

    def limits(self) -> WorkerLimits:
        return WorkerLimits(timeout_s=self.config.timeout_s, memory_gb=self.config.memory_gb)

    # ----------------------------------------------------------------------- worker tasks

    def request(self, **extra: Any) -> dict[str, Any]:
        """A worker request: the source, the config and the workspace, plus ``extra``."""
        return {
            "source": to_json(self.source),
            "config": to_json(self.config),
            "workspace": str(self.workspace.root),
            **extra,
        }

    def run_task(self, task: Task, *, stage: str, in_process: bool, **extra: Any) -> dict[str, Any]:
        """Run ``task`` on :meth:`request` ``(**extra)`` under this conversion's limits; record its peak memory."""
        run = call(
            task,
            self.request(**extra),
            in_process=in_process,
            log_dir=self.workspace.logs,
            limits=self.limits(),
            stage=stage,
        )
        self.peak_rss_mb[task.name] = round(run.peak_rss_mb, 1)
        self.worker_seconds[task.name] = round(run.seconds, 3)
        return run.result

    def record_own_peak(self) -> None:
        """This process's peak resident memory (fixups, ONNX Runtime, validation; in-process stages too)."""
        import resource

        self.peak_rss_mb["orchestrator"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    # ----------------------------------------------------------------------- validate mode

    @property
    def validating(self) -> bool:
        """Whether artifacts made elsewhere are validated (``validate``) rather than made here (``convert``)."""
        return bool(self.given)

    @property
    def given_onnx(self) -> Path | None:
        """A given ONNX file: it stands in for the export (TensorFlow computes the reference only)."""
        return Path(self.given["onnx"]) if "onnx" in self.given else None

    @property
    def given_torch(self) -> Path | None:
        """A given ``torch.export`` program: it stands in for the import."""
        return Path(self.given["torch"]) if "torch" in self.given else None

    @property
    def ort_model(self) -> Path:
        """The ONNX file ONNX Runtime runs: the fixed graph, or a given ONNX file as it is."""
        return self.workspace.onnx_raw if self.given_onnx is not None else self.workspace.onnx_fixed


@dataclass
class ConversionResult:
    """What :func:`pipeline.flow.convert` returns: status, report, and the converted module (loaded on demand)."""

    status: str
    out_dir: Path
    report: dict[str, Any]
    error: PipelineError | None = None
    _module: Any = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def torch_module(self) -> Any:
        """The converted model as a ``torch.nn.Module`` (from ``model.pt2``)."""
        if self._module is None:
            if self.error is not None:
                raise self.error
            import torch

            self._module = torch.export.load(str(self.out_dir / "model.pt2")).module()
        return self._module
