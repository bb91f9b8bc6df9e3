"""ONNX-ML TreeEnsemble (version 5): decision-tree ensembles, evaluated as path matching."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from custom_ops.base import CustomOp, TorchConverter
from custom_ops.common import attributes, result

ML = "ai.onnx.ml"
_LEQ, _LT, _GTE, _GT, _EQ, _NEQ, _MEMBER = range(7)


class OnnxTreeEnsemble(nn.Module):
    """Every root-to-leaf path becomes a row of required node outcomes; all node tests are
    evaluated at once, a path is taken when all its outcomes hold (one per tree), and the leaf
    weights are summed, averaged, or min/max-ed per target.

    onnx2torch converts no ``ai.onnx.ml`` op.
    """

    def __init__(self, attrs: dict[str, Any]) -> None:
        super().__init__()
        modes = [int(m) for m in np.asarray(attrs["nodes_modes"]).reshape(-1)]
        splits = np.asarray(attrs["nodes_splits"], dtype=np.float64).reshape(-1)
        features = [int(f) for f in attrs["nodes_featureids"]]
        true_ids, false_ids = list(attrs["nodes_truenodeids"]), list(attrs["nodes_falsenodeids"])
        true_leaf, false_leaf = list(attrs["nodes_trueleafs"]), list(attrs["nodes_falseleafs"])
        tracks = list(attrs.get("nodes_missing_value_tracks_true") or [0] * len(modes))
        members = np.asarray(attrs.get("membership_values", []), dtype=np.float64).reshape(-1)
        sets: dict[int, list[float]] = {}
        groups = np.split(members, np.where(np.isnan(members))[0]) if members.size else []
        member_nodes = [i for i, m in enumerate(modes) if m == _MEMBER]
        for node, group in zip(member_nodes, groups, strict=False):
            sets[node] = [float(v) for v in group if not np.isnan(v)]
        weights = np.asarray(attrs["leaf_weights"], dtype=np.float64).reshape(-1)
        targets = [int(t) for t in attrs["leaf_targetids"]]
        self.n_targets = int(attrs["n_targets"])
        self.aggregate = int(attrs.get("aggregate_function", 1))
        self.post = int(attrs.get("post_transform", 0))
        if self.post not in (0, 1, 2):
            raise NotImplementedError(f"TreeEnsemble post_transform {self.post}")
        roots = [int(r) for r in attrs["tree_roots"]]
        self.n_trees = len(roots)
        paths: list[tuple[int, list[tuple[int, bool]], int]] = []  # (tree, [(node, outcome)], leaf)

        def walk(tree: int, node: int, is_leaf: bool, trail: list[tuple[int, bool]]) -> None:
            if is_leaf:
                paths.append((tree, trail, node))
                return
            walk(tree, true_ids[node], bool(true_leaf[node]), [*trail, (node, True)])
            walk(tree, false_ids[node], bool(false_leaf[node]), [*trail, (node, False)])

        for tree, root in enumerate(roots):
            lone_leaf = true_leaf[root] and false_leaf[root] and true_ids[root] == false_ids[root]
            walk(tree, true_ids[root] if lone_leaf else root, bool(lone_leaf), [])
        used = sorted({node for _, trail, _ in paths for node, _ in trail})
        column = {node: i for i, node in enumerate(used)}
        need_true = np.zeros((len(paths), max(len(used), 1)))
        need_false = np.zeros_like(need_true)
        for row, (_, trail, _) in enumerate(paths):
            for node, outcome in trail:
                (need_true if outcome else need_false)[row, column[node]] = 1
        self.nodes = used
        self.modes = [modes[n] for n in used]
        self.features = [features[n] for n in used]
        self.sets = [sets.get(n, []) for n in used]
        self.register_buffer("splits", torch.tensor([splits[n] for n in used], dtype=torch.float64), persistent=False)
        self.register_buffer("tracks", torch.tensor([bool(tracks[n]) for n in used]), persistent=False)
        self.register_buffer("need_true", torch.from_numpy(need_true), persistent=False)
        self.register_buffer("need_false", torch.from_numpy(need_false), persistent=False)
        self.register_buffer("path_length", torch.tensor([float(len(t)) for _, t, _ in paths]), persistent=False)
        self.register_buffer("path_weight", torch.tensor([weights[leaf] for *_, leaf in paths]), persistent=False)
        self.path_target = [targets[leaf] for *_, leaf in paths]
        self.path_tree = [tree for tree, *_ in paths]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        data = x.to(torch.float64).reshape(x.shape[0], -1)
        outcomes = []
        for i, (mode, feature) in enumerate(zip(self.modes, self.features, strict=True)):
            value, split = data[:, feature], self.splits[i]
            if mode == _LEQ:
                hit = value <= split
            elif mode == _LT:
                hit = value < split
            elif mode == _GTE:
                hit = value >= split
            elif mode == _GT:
                hit = value > split
            elif mode == _EQ:
                hit = value == split
            elif mode == _NEQ:
                hit = value != split
            else:
                hit = torch.isin(value, torch.tensor(self.sets[i], dtype=torch.float64))
            outcomes.append(hit | (self.tracks[i] & torch.isnan(value)))
        hits = torch.stack(outcomes, dim=1).to(torch.float64) if outcomes else data[:, :1] * 0
        agree = hits @ self.need_true.T + (1 - hits) @ self.need_false.T  # (samples, paths)
        taken = (agree == self.path_length).to(torch.float64) * self.path_weight
        scores = torch.zeros(data.shape[0], self.n_targets, dtype=torch.float64)
        if self.aggregate in (0, 1):  # AVERAGE, SUM
            for p, target in enumerate(self.path_target):
                scores[:, target] += taken[:, p]
            if self.aggregate == 0:
                scores = scores / self.n_trees
        else:  # MIN, MAX: one leaf per tree reaches each target
            fill = math.inf if self.aggregate == 2 else -math.inf
            scores = torch.full_like(scores, fill)
            reached = agree == self.path_length
            for p, target in enumerate(self.path_target):
                value = torch.where(reached[:, p], self.path_weight[p], torch.full_like(taken[:, p], fill))
                pick = torch.minimum if self.aggregate == 2 else torch.maximum
                scores[:, target] = pick(scores[:, target], value)
            scores = torch.where(torch.isinf(scores), torch.zeros_like(scores), scores)  # no leaf: 0, as ORT
        if self.post == 1:
            scores = torch.softmax(scores, dim=1)
        elif self.post == 2:
            scores = torch.sigmoid(scores)
        return scores.to(x.dtype)


def _convert(node: Any, graph: Any) -> Any:
    return result(OnnxTreeEnsemble(attributes(node)), node)


OP = CustomOp.define(
    OnnxTreeEnsemble, name="TreeEnsemble", torch=(TorchConverter("TreeEnsemble", (5,), _convert, domain=ML),)
)
