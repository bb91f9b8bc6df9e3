"""Which stage is to blame when a pair fails, and what to localise.

The three runtimes form a chain: TensorFlow -> (export) -> ONNX Runtime -> (import) -> torch.
TF != ORT while ORT = torch points at the export; TF = ORT while ORT != torch points at the import;
ORT disagreeing with both while TF = torch points at ONNX Runtime itself. An input set that one
runtime cannot run at all blames the first artifact in the chain that fails it, and a batch axis
that is dynamic in the source but fixed in the ONNX graph is named as such: the usual cause is a
model exported with a fixed batch by mistake.

:func:`validate_stage` compares the runtimes pair by pair (:mod:`pipeline.stages.validate`);
:func:`diagnose_conversion` is its second half: the verdict, then a localisation
walk (:mod:`pipeline.stages.localize`) for each failing pair, in the worker process that can run it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.stages.validate import RUNTIMES, PairResult

if TYPE_CHECKING:
    from pipeline.conversion import Conversion

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
        for stage, pair, comparison, agrees in (
            ("export", "tf_vs_ort", tf_ort, a),
            ("import", "ort_vs_torch", ort_torch, b),
        ):
            if agrees is False:
                blame.append(stage)
                assert comparison is not None
                chosen = failing_set(comparison, batches)
                if chosen:
                    localize[pair] = chosen
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


# --------------------------------------------------------------------------- the stage


def validate_stage(conv: Conversion) -> None:
    """Stage 6: compare TF / ONNX Runtime / torch pair by pair, then blame a stage and localise."""
    from pipeline import precision
    from pipeline.context import timed
    from pipeline.inputs import describe_sets, load_sets
    from pipeline.stages.validate import merge_probes, validate

    assert conv.export is not None
    ws = conv.workspace
    from pipeline.translate.stage import module_outputs

    with timed(conv.stages, "validate"):
        conv.input_sets = describe_sets(load_sets(ws.inputs), conv.export.inputs)
        runs: dict[str, Any] = {
            "tf": load_sets(ws.outputs_tf) if ws.outputs_tf.is_file() else None,
            "ort": load_sets(ws.outputs_ort),
            "module": module_outputs(ws),  # model.py (pipeline/translate/stage.py)
            "torch": merge_probes(
                load_sets(ws.outputs_torch), load_sets(ws.probes_torch) if ws.probes_torch.is_file() else None
            ),
        }
        dtype = conv.export.compute_dtype  # low-precision models: tolerance follows their epsilon
        conv.notes.extend(n for n in [precision.note(conv.config, dtype)] if n)
        conv.validation = validate(runs, precision.tolerance_for(conv.config, dtype), conv.run_errors)
    with timed(conv.stages, "diagnose"):
        conv.diagnosis = diagnose_conversion(conv)


def diagnose_conversion(conv: Conversion) -> dict[str, Any]:
    """Blame a stage and, where a pair fails (or ``localize: always``), localise the divergence."""
    import onnx

    from pipeline.artifacts import fixed_batch

    assert conv.export is not None
    batches = {s["name"]: s["batch"] for s in conv.input_sets}
    path = conv.ort_model
    graph = onnx.load(str(path), load_external_data=False) if path.is_file() else None
    verdict = diagnose(
        conv.validation,
        conv.run_errors,
        fixed_batch=fixed_batch(graph, conv.export.inputs) if graph is not None else [],
        batches=batches,
        torch_dynamic=conv.torch.dynamic_batch if conv.torch else None,
    )
    wanted: dict[str, str] = dict(verdict.pop("localize"))
    if conv.config.localize == "never":
        wanted = {}
    elif conv.config.localize == "always":
        smallest = min(batches, key=lambda n: batches[n] or 1) if batches else None
        ran = [n for n in batches if not any(n in e for e in conv.run_errors.values())]
        chosen = smallest if smallest in ran else (ran[0] if ran else None)
        if chosen:
            wanted.setdefault("ort_vs_torch", chosen)
            if conv.export.has_reference:
                wanted.setdefault("tf_vs_ort", chosen)
    blamed_export = "export" in verdict["blame"] and "tf_vs_ort" in wanted and conv.given_onnx is None
    if blamed_export and _raw_agrees_with_tf(conv, wanted["tf_vs_ort"]):
        verdict["blame"] = ["fixups" if b == "export" else b for b in verdict["blame"]]
        verdict["findings"].append(
            "the ONNX model as tf2onnx exported it (model.onnx) agrees with TensorFlow; the fixed one does not"
        )
        verdict["summary"] = summary(verdict["blame"], *(_agree(conv, p) for p in ("tf_vs_ort", "ort_vs_torch")))
    verdict["localization"] = {pair: _localize(conv, pair, set_name) for pair, set_name in wanted.items()}
    return verdict


def _agree(conv: Conversion, pair: str) -> bool | None:
    result = conv.validation.get(pair)
    return None if result is None or result.passed is None else bool(result.passed)


def _raw_agrees_with_tf(conv: Conversion, set_name: str) -> bool:
    """Whether ONNX Runtime on the unfixed export agrees with TensorFlow on ``set_name`` (blames the fixups)."""
    from pipeline import precision
    from pipeline.errors import PipelineError
    from pipeline.inputs import load_sets
    from pipeline.stages import onnxruntime_run
    from pipeline.stages.validate import compare_runs

    ws = conv.workspace
    try:
        sets = {set_name: load_sets(ws.inputs)[set_name]}
        raw = onnxruntime_run.run(ws.onnx_raw, sets)
    except PipelineError:
        return False
    reference = {set_name: load_sets(ws.outputs_tf)[set_name]}
    tolerance_for = precision.tolerance_for(conv.config, conv.export.compute_dtype if conv.export else None)
    return bool(compare_runs(raw.outputs, reference, tolerance_for).passed)


def _localize(conv: Conversion, pair: str, set_name: str) -> dict[str, Any]:
    """One localisation walk in the worker that can run it; its failure is reported, never raised."""
    from pipeline.context import to_json
    from pipeline.errors import PipelineError
    from pipeline.stages.localize import LOCALIZE_TF, LOCALIZE_TORCH

    assert conv.export is not None
    ws = conv.workspace
    common = {
        "onnx": str(conv.ort_model),
        "inputs": str(ws.inputs),
        "set": set_name,
        "tolerance": to_json(conv.config.tolerance),
    }
    try:
        if pair == "ort_vs_torch":
            return conv.run_task(
                LOCALIZE_TORCH,
                stage="localize",
                in_process=conv.in_process_torch,
                **common,
                pt2=str(ws.pt2),
                layers=conv.export.layers,
                modules=str(ws.scratch / "onnx_modules.json"),
                input_order=[spec.name for spec in conv.export.inputs],
                device=conv.torch_device,
            )
        return conv.run_task(
            LOCALIZE_TF, stage="localize", in_process=conv.in_process_tf, **common, reference=str(ws.outputs_tf)
        )
    except PipelineError as exc:
        return {"pair": pair, "status": "unavailable", "input_set": set_name, "reason": str(exc)}
