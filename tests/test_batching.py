"""Input sets merged into one call per runtime, and split back per set."""

from __future__ import annotations

import numpy as np

from pipeline.batching import MERGED, plan, run_merged


def _sets() -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    return {
        "random": {"x": rng.normal(size=(2, 3)).astype(np.float32)},
        "batch1": {"x": rng.normal(size=(1, 3)).astype(np.float32)},
        "zeros": {"x": np.zeros((1, 3), np.float32)},
        "odd": {"x": np.ones((1, 4), np.float32)},  # other shape: a call of its own
    }


def _double(sets: dict[str, dict[str, np.ndarray]], calls: list[list[str]]) -> tuple[dict, dict]:
    calls.append(list(sets))
    return {name: {"y": arrays["x"] * 2} for name, arrays in sets.items()}, {}


def test_plan_keeps_batch1_and_odd_shapes_apart() -> None:
    assert plan(_sets(), {"x": 0}) == [["random", "zeros"], ["batch1"], ["odd"]]
    assert plan(_sets(), {"x": None}) == [["random"], ["batch1"], ["zeros"], ["odd"]]


def test_outputs_split_back_per_set_in_one_call() -> None:
    calls: list[list[str]] = []
    outputs, errors = run_merged(lambda s: _double(s, calls), _sets(), {"x": 0})
    assert calls == [[MERGED + "random+zeros", "batch1", "odd"]]
    assert list(outputs) == ["random", "batch1", "zeros", "odd"] and not errors
    for name, arrays in _sets().items():
        np.testing.assert_array_equal(outputs[name]["y"], arrays["x"] * 2)


def test_a_failing_merged_call_reruns_its_sets_one_by_one() -> None:
    calls: list[list[str]] = []

    def run(sets: dict[str, dict[str, np.ndarray]]) -> tuple[dict, dict]:
        calls.append(list(sets))
        ok = {n: {"y": a["x"]} for n, a in sets.items() if a["x"].shape[0] == 1}
        return ok, {n: "batch must be 1" for n, a in sets.items() if a["x"].shape[0] != 1}

    outputs, errors = run_merged(run, _sets(), {"x": 0})
    assert calls[1] == ["random", "zeros"]
    assert set(outputs) == {"batch1", "zeros", "odd"} and errors == {"random": "batch must be 1"}


def test_an_output_without_the_batch_reruns_its_sets() -> None:
    def run(sets: dict[str, dict[str, np.ndarray]]) -> tuple[dict, dict]:
        return {n: {"total": a["x"].sum(keepdims=True)[0]} for n, a in sets.items()}, {}

    outputs, _ = run_merged(run, _sets(), {"x": 0})
    np.testing.assert_allclose(outputs["random"]["total"], _sets()["random"]["x"].sum(keepdims=True)[0])
