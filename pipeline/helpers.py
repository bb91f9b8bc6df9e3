"""Small helpers several modules share: error text, log tails, processes, numerics, versions."""

from __future__ import annotations

from pathlib import Path


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of an exception's message (at most ``limit`` characters), or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file ('' when it cannot be read)."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def process_running(pid: int) -> bool:
    """Whether ``pid`` runs (a killed process can linger as a zombie until its new parent reaps it)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def tf_full_precision() -> None:
    """TensorFlow without TF32 matmuls and convolutions: the comparisons expect float32 results."""
    import tensorflow as tf

    tf.config.experimental.enable_tensor_float_32_execution(False)


def torch_full_precision() -> None:
    """torch without TF32 matmuls and convolutions: the comparisons expect float32 results."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def package_version(package: str) -> str:
    """The installed version of ``package`` (for the report's versions)."""
    from importlib.metadata import version

    return version(package)
