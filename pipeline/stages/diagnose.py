"""Which stage is to blame when a pair fails, and what to localise.

The three runtimes form a chain: TensorFlow -> (export) -> ONNX Runtime -> (import) -> torch.
TF != ORT while ORT = torch points at the export; TF = ORT while ORT != torch points at the import;
ORT disagreeing with both while TF = torch points at ONNX Runtime itself. An input set that one
runtime cannot run at all blames the first artifact in the chain that fails it, and a batch axis
that is dynamic in the source but fixed in the ONNX graph is named as such: the usual cause is a
model exported with a fixed batch by mistake.
"""

from __future__ import annotations

from typing import Any

from pipeline.stages.validate import RUNTIMES, PairResult

STAGE_NAMES = {
    "export": "the export (TensorFlow -> ONNX)",
    "fixups": "the graph fixups",
    "import": "the import (ONNX -> torch)",
    "onnxruntime": "ONNX Runtime itself",
}


def _numeric_failure(pair: PairResult | None) -> bool:
    return bool(pair and pair.passed is False and any(not s.passed and not s.error for s in pair.sets.values()))


def _agrees(pair: PairResult | None) -> bool | None:
    if pair is None or pair.passed is None:
        return None
    return not _numeric_failure(pair)


def failing_set(pair: PairResult, batches: dict[str, int | None]) -> str | None:
    """The input set to localise on: one with a numeric failure, the smallest batch first."""
    failing = [name for name, s in pair.sets.items() if not s.passed and not s.error]
    if not failing:
        return None
    return min(failing, key=lambda name: (batches.get(name) or 1, list(pair.sets).index(name)))


def diagnose(
    validation: dict[str, PairResult],
    run_errors: dict[str, dict[str, str]],
    *,
    fixed_batch: list[dict[str, Any]] | None = None,
    batches: dict[str, int | None] | None = None,
    torch_dynamic: bool | None = None,
) -> dict[str, Any]:
    """The verdict on a validation: ``blame`` (stages), ``summary``, ``findings`` and what to localise."""
    batches = batches or {}
    tf_ort, ort_torch, tf_torch = (validation.get(p) for p in ("tf_vs_ort", "ort_vs_torch", "tf_vs_torch"))
    blame: list[str] = []
    findings: list[str] = []
    localize: dict[str, str] = {}

    for item in fixed_batch or []:
        bad = list(run_errors.get("ort", {}))
        where = f"; input set(s) {', '.join(bad)} cannot run" if bad else ""
        findings.append(
            f"FIXED BATCH: ONNX input '{item['input']}' has a fixed batch of {item['size']} (axis {item['axis']}), "
            f"while the source model's batch is dynamic{where}. The model was exported with a fixed batch size: "
            "export it with the batch dimension left unknown (None)."
        )
    if torch_dynamic is False:
        findings.append("the torch program has a static batch dimension (it runs only at the batch it was exported at)")

    ran_tf = set(run_errors.get("tf", {}))
    ort_failed = {s: m for s, m in run_errors.get("ort", {}).items() if s not in ran_tf}
    torch_failed = {s: m for s, m in run_errors.get("torch", {}).items() if s not in ort_failed}
    if ort_failed:
        blame.append("export")
        for set_name, message in ort_failed.items():
            batch = batches.get(set_name)
            findings.append(f"ONNX Runtime cannot run input set '{set_name}' (batch {batch}): {message}")
    if torch_failed:
        blame.append("import")
        for set_name, message in torch_failed.items():
            findings.append(f"torch cannot run input set '{set_name}' (batch {batches.get(set_name)}): {message}")

    a, b, c = _agrees(tf_ort), _agrees(ort_torch), _agrees(tf_torch)
    if a is False and b is False and c is True:
        blame.append("onnxruntime")
        findings.append("ONNX Runtime disagrees with TensorFlow and with torch, which agree with each other")
    else:
        if a is False:
            blame.append("export")
            assert tf_ort is not None
            chosen = failing_set(tf_ort, batches)
            if chosen:
                localize["tf_vs_ort"] = chosen
        if b is False:
            blame.append("import")
            assert ort_torch is not None
            chosen = failing_set(ort_torch, batches)
            if chosen:
                localize["ort_vs_torch"] = chosen
        if a is None and b is None and c is False:
            findings.append("TensorFlow and torch disagree; ONNX Runtime did not run, so no stage can be singled out")
    blame = list(dict.fromkeys(blame))
    unrunnable = {"ONNX Runtime": sorted(ort_failed), "torch": sorted(torch_failed)}
    return {
        "blame": blame,
        "summary": summary(blame, a, b, unrunnable),
        "findings": findings,
        "localize": localize,
    }


def summary(
    blame: list[str], tf_ort: bool | None, ort_torch: bool | None, unrunnable: dict[str, list[str]] | None = None
) -> str:
    """One sentence saying which stage is to blame and why."""
    if not blame:
        return "all compared pairs agree"
    said = {True: "agree", False: "disagree", None: "were not compared"}
    evidence = [f"TensorFlow and ONNX Runtime {said[tf_ort]}", f"ONNX Runtime and torch {said[ort_torch]}"]
    for runtime, sets in (unrunnable or {}).items():
        if sets:
            evidence.append(f"{runtime} cannot run input set(s) {', '.join(sets)}")
    stages = " and ".join(STAGE_NAMES[b] for b in blame)
    return f"{stages} {'is' if len(blame) == 1 else 'are'} to blame ({'; '.join(evidence)})"


def runtime_name(key: str) -> str:
    """Human name of a runtime key (``tf``, ``ort``, ``torch``)."""
    return RUNTIMES.get(key, key)
