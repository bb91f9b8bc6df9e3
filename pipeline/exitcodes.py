"""The command line's exit codes and what each means.

``make`` turns any failing command into its own exit code 2, so the Makefile prints the
pipeline's code and meaning as the last line (``python -m pipeline.exitcodes CODE``).
"""

from __future__ import annotations

import sys

PASSED, FAILED, USER_ERROR, INTERNAL_ERROR, INTERRUPTED = 0, 1, 2, 3, 130

MEANINGS: dict[int, str] = {
    PASSED: "validation passed (batch: every model passed)",
    FAILED: "validation failed (batch: some model did not pass)",
    USER_ERROR: "the input is at fault (missing file, not a model, bad config, unsupported op, refused --out)",
    INTERNAL_ERROR: "a worker crashed or an internal error",
    INTERRUPTED: "interrupted (Ctrl-C or SIGTERM)",
}


def describe(code: int) -> str:
    """One line naming ``code`` and its meaning."""
    return f"exit code {code}: {MEANINGS.get(code, 'unexpected (not one of the pipeline codes)')}"


def help_text() -> str:
    """The exit codes as the ``--help`` epilog lists them."""
    return "exit codes:\n" + "\n".join(f"  {code:<4} {text}" for code, text in MEANINGS.items())


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.exitcodes CODE``: print the line for ``CODE``; exit with it."""
    args = sys.argv[1:] if argv is None else argv
    code = int(args[0]) if args and args[0].lstrip("-").isdigit() else INTERNAL_ERROR
    print(describe(code))
    return code


if __name__ == "__main__":
    sys.exit(main())
