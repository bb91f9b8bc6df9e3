"""Command line: ``python -m pipeline convert SOURCE [--out DIR] [--config YAML] [--inputs NPZ]``;
``python -m pipeline validate SOURCE --onnx FILE.onnx [--torch FILE.pt2]`` checks artifacts made elsewhere.

``python -m pipeline batch CONFIG [--out DIR] [--jobs N] [--force] [--engine ray [--address ADDR]]``
converts every model of a batch file (see pipeline/batch/); it exits 0
when every model passed, 1 otherwise, 2 when the file itself is unusable.

Exit codes: 0 validation passed, 1 validation failed, 2 the input was at fault (missing file,
not a model, bad config, unsupported op), 3 a crash or an internal error. Errors print one
message naming the stage and the node/op/layer, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import tempdirs
from pipeline.errors import PipelineError, UserError
from pipeline.progress import Display
from pipeline.rendering.text import text_table

if TYPE_CHECKING:
    from pipeline.flow import ConversionResult

EXIT_PASSED, EXIT_FAILED = 0, 1


def print_summary(report: dict[str, Any], out_dir: Path, stream: Any = sys.stdout) -> None:
    from pipeline.report import pair_rows

    print(f"\n{report['name']}: {report['status'].upper()}", file=stream)
    error = report.get("error")
    if error:
        return
    rows = pair_rows(report)
    if rows:
        print(text_table(rows, ("pair", "output", "verdict", "max abs err")), file=stream)
    seconds = sum(s["seconds"] for s in report.get("stages", []))
    providers = ", ".join(report.get("execution_providers") or []) or "-"
    torch_info = report.get("torch") or {}
    print(
        f"onnxruntime: {providers} | torch: {report.get('torch_device') or '-'} | "
        f"dynamic batch: {_yes_no(torch_info.get('dynamic_batch'))} | {seconds:.1f} s in stages",
        file=stream,
    )
    diagnosis = report.get("diagnosis") or {}
    if diagnosis.get("blame"):
        print(f"blame: {', '.join(diagnosis['blame'])}: {diagnosis.get('summary')}", file=stream)
    for finding in diagnosis.get("findings") or []:
        print(f"  - {finding}", file=stream)
    for walk in (diagnosis.get("localization") or {}).values():
        first = walk.get("first_divergence")
        if first:
            print(
                f"first divergence ({walk.get('pair')}): node '{first.get('node')}' ({first.get('op')}), "
                f"Keras layer '{first.get('layer') or '-'}', error {first['error']:.3g} x spread",
                file=stream,
            )
            for suspect in first.get("suspect_nodes") or []:
                print(f"  weight of node '{suspect['node']}' ({suspect['op']}): {suspect['reason']}", file=stream)
        elif walk.get("status") == "unavailable":
            print(f"localisation ({walk.get('pair')}) unavailable: {walk.get('reason')}", file=stream)
    print(
        f"artifacts: {out_dir}/ ({', '.join(report.get('artifacts', {}).values())}, report.json, report.md, "
        "report.html)",
        file=stream,
    )


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _error_message(error: PipelineError) -> str:
    return f"error: {error}"


def cmd_convert(args: argparse.Namespace) -> int:
    from pipeline.config import check_name, default_name
    from pipeline.config_files import load_for_model
    from pipeline.flow import convert

    config = load_for_model(args.config, args.source)
    name = check_name(args.name) or config.name or default_name(args.source)
    config = config.with_overrides(name=name)
    out = Path(args.out) if args.out else Path("out") / name
    with Display(name):
        result = convert(args.source, out, config, inputs=args.inputs, isolate=True, raise_on_error=False)
    return _finish(result, out)


def _finish(result: ConversionResult, out: Path) -> int:
    """Print a conversion's or a validation's outcome; its exit code."""
    if result.error is not None:
        print(_error_message(result.error), file=sys.stderr)
        print(f"report: {result.out_dir}/report.json", file=sys.stderr)
        if result.out_dir != out:
            print(f"the earlier result in {out}/ was kept", file=sys.stderr)
        return result.error.exit_code
    print_summary(result.report, out)
    return EXIT_PASSED if result.passed else EXIT_FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    from pipeline.config import check_name, default_name
    from pipeline.config_files import load_for_model
    from pipeline.flow import validate_artifacts

    config = load_for_model(args.config, args.source)
    name = check_name(args.name) or config.name or default_name(args.onnx)
    config = config.with_overrides(name=name)
    out = Path(args.out) if args.out else Path("out") / f"{name}-validate"
    with Display(name):
        result = validate_artifacts(
            args.source, args.onnx, args.torch, out, config, inputs=args.inputs, isolate=True, raise_on_error=False
        )
    return _finish(result, out)


def cmd_batch(args: argparse.Namespace) -> int:
    from pipeline.batch import run_batch, summary_table

    out = Path(args.out) if args.out else Path("out") / Path(args.config).stem
    if args.address and args.engine != "ray":
        raise UserError("--address names a Ray cluster: it needs --engine ray", stage="batch")
    engine = None
    if args.engine == "ray":
        from pipeline.batch.ray_engine import RayEngine

        engine = RayEngine(args.address, args.jobs)
    summary = run_batch(
        args.config, out, jobs=args.jobs, force=args.force, retry_failed=args.retry_failed, engine=engine
    )
    reused = sum(m.reused for m in summary.models)
    print(f"\n{summary_table(summary)}")
    print(
        f"{summary.workers_started} converted, {reused} reused from earlier runs; "
        f"{summary.wall_seconds:.1f} s wall, {summary.jobs} in parallel"
    )
    print(f"summary: {out}/summary.json, summary.md, junit.xml")
    return EXIT_PASSED if summary.passed else EXIT_FAILED


def cmd_support_table(args: argparse.Namespace) -> int:
    from pipeline.support import support_table

    text = support_table()
    if args.write:
        Path(args.write).parent.mkdir(parents=True, exist_ok=True)
        Path(args.write).write_text(text, encoding="utf-8")
        print(f"wrote {args.write}")
    else:
        print(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from pipeline.exitcodes import help_text

    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Convert a TensorFlow/Keras model to PyTorch through ONNX and validate the result.",
        epilog=help_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    common = {"epilog": help_text(), "formatter_class": argparse.RawDescriptionHelpFormatter}

    conv = sub.add_parser("convert", help="convert one model and validate it", **common)
    conv.add_argument("source", help=".keras, .h5, SavedModel dir, module:callable, .onnx, or example:seed_cnn")
    conv.add_argument("--out", help="output folder (default: out/<model name>)")
    conv.add_argument("--config", help="YAML config (one entry, or a batch file and SOURCE names an entry)")
    conv.add_argument("--inputs", help=".npz of inputs keyed by input name (instead of generated ones)")
    conv.add_argument("--name", help="model name (default: from the config or the source)")
    conv.set_defaults(func=cmd_convert)

    check = sub.add_parser(
        "validate",
        help="validate an ONNX file (and a torch.export program) made elsewhere against the source model",
        **common,
    )
    check.add_argument("source", help="the model they were made from (any source `convert` takes, except .onnx)")
    check.add_argument("--onnx", required=True, help="the ONNX file to validate")
    check.add_argument(
        "--torch",
        help="a torch.export program (.pt2) to validate; without it the ONNX file is imported with our importer",
    )
    check.add_argument("--out", help="output folder (default: out/<name>-validate)")
    check.add_argument("--config", help="YAML config (tolerances, inputs, ...)")
    check.add_argument("--inputs", help=".npz of inputs keyed by input name (instead of generated ones)")
    check.add_argument("--name", help="name for the report (default: from the config or the ONNX file)")
    check.set_defaults(func=cmd_validate)
    batch = sub.add_parser("batch", help="convert every model of a YAML batch file, in parallel, resumably", **common)
    batch.add_argument("config", help="YAML file with 'defaults' and a 'models' list")
    batch.add_argument("--out", help="output folder (default: out/<config file stem>)")
    batch.add_argument("--jobs", type=int, help="conversions in parallel (default: the number of cores)")
    batch.add_argument("--force", action="store_true", help="redo every model, even when its result is current")
    batch.add_argument("--retry-failed", action="store_true", help="redo the models that did not pass")
    batch.add_argument("--engine", choices=("local", "ray"), default="local", help="where conversions run")
    batch.add_argument("--address", help="Ray cluster (auto, HOST:PORT, ray://HOST:PORT); default: a local instance")
    batch.set_defaults(func=cmd_batch)

    table = sub.add_parser("support-table", help="print the generated table of fixups and custom ops")
    table.add_argument("--write", help="write it to this file instead")
    table.set_defaults(func=cmd_support_table)
    return parser


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # clean up workers and staging folders as for Ctrl-C


def main(argv: list[str] | None = None) -> int:
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    tempdirs.clean_dead()  # work folders of runs that were killed
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except PipelineError as exc:
        print(_error_message(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
