"""``module:callable`` sources that misbehave on purpose, for the batch tests (each runs in a TensorFlow worker)."""

from __future__ import annotations

import os
import resource
import signal
import time
from typing import Any


def segfault() -> Any:
    """Dies by SIGSEGV while "building" the model, as a crashing native library would."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file
    os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(60)  # not reached


def hang() -> Any:
    """Never returns (a deadlock, a model that takes forever to build)."""
    while True:
        time.sleep(1)


def memory_hog() -> Any:
    """Allocates (and touches) memory until something stops it: at most 8 GB, in 100 MB steps."""
    import numpy as np

    blocks = []
    for _ in range(80):
        blocks.append(np.ones(100 * 2**20, dtype=np.uint8))
        time.sleep(0.05)
    time.sleep(60)
    raise RuntimeError("the memory cap did not stop this worker")
