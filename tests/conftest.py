"""Shared fixtures. torch and torchvision are imported before TensorFlow on purpose: the other
order crashes the process (see pipeline/worker.py), and tests use both in one process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch  # noqa: F401  (import order matters, see module docstring)
import torchvision  # noqa: F401

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def rng() -> np.random.Generator:
    """Seeded randomness for a test."""
    return np.random.default_rng(1234)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pipeline ...`` as a user would; returns the completed process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd or ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One saved model per source kind, built once per session."""
    from tests import models

    folder = tmp_path_factory.mktemp("models")
    return models.save_all(folder)
