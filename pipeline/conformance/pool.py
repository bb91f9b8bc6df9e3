"""The worker pool: cases in forked processes, each with a time limit; a crash or hang fails only its case."""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from pipeline.conformance import runners
from pipeline.conformance.cases import Case, Outcome


@dataclass
class _Slot:
    process: Any
    conn: Connection
    index: int | None = None
    deadline: float = 0.0


def run_cases(cases: list[Case], baseline: bool, jobs: int, timeout: float) -> list[Outcome]:
    """Run every case in ``jobs`` forked workers; a case past ``timeout`` seconds fails and its worker is replaced."""
    context = multiprocessing.get_context("fork")
    outcomes = [Outcome(c.name, c.op) for c in cases]
    pending = list(range(len(cases)))[::-1]
    slots: list[_Slot] = []

    def start() -> _Slot:
        parent, child = context.Pipe()
        process = context.Process(target=runners.worker, args=(child, cases, baseline), daemon=True)
        process.start()
        child.close()
        return _Slot(process, parent)

    def give(slot: _Slot) -> None:
        if pending:
            slot.index = pending.pop()
            slot.deadline = time.monotonic() + timeout
            slot.conn.send(slot.index)
        else:
            slot.index = None

    def record_death(slot: _Slot, why: str) -> None:
        assert slot.index is not None
        outcome = outcomes[slot.index]
        for stage in ("ort", "ours", "baseline"):
            if getattr(outcome, stage) == "not run" and (stage != "baseline" or baseline):
                setattr(outcome, stage, why)
                break

    for _ in range(max(1, min(jobs, len(cases)))):
        slot = start()
        slots.append(slot)
        give(slot)

    while any(s.index is not None for s in slots):
        busy = [s for s in slots if s.index is not None]
        ready = wait([s.conn for s in busy], timeout=max(0.05, min(s.deadline for s in busy) - time.monotonic()))
        for slot in busy:
            if slot.conn in ready:
                try:
                    kind, index, value = slot.conn.recv()
                except (EOFError, OSError):
                    code = slot.process.exitcode
                    slot.process.join(timeout=5)
                    code = slot.process.exitcode if code is None else code
                    record_death(slot, f"worker crashed (exit code {code})")
                    replacement = start()
                    slots[slots.index(slot)] = replacement
                    give(replacement)
                    continue
                outcome = outcomes[index]
                if kind == "ort":
                    outcome.ort = value
                elif kind == "ours":
                    outcome.ours, outcome.warned = value
                elif kind == "baseline":
                    outcome.baseline = value[0]
                elif kind == "seconds":
                    outcome.seconds = value
                elif kind == "done":
                    give(slot)
                slot.deadline = time.monotonic() + timeout if kind != "done" else slot.deadline
            elif time.monotonic() > slot.deadline:
                slot.process.kill()
                slot.process.join(timeout=5)
                record_death(slot, f"timed out after {timeout:g} s")
                slot.conn.close()
                replacement = start()
                slots[slots.index(slot)] = replacement
                give(replacement)
    for slot in slots:
        try:
            slot.conn.send(None)
        except OSError:
            pass
        slot.process.join(timeout=5)
        if slot.process.is_alive():
            slot.process.kill()
    return outcomes
