"""ONNX TfIdfVectorizer over integer tokens: n-gram (with skips) counts, IDF or TF-IDF weights."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, result


class OnnxTfIdfVectorizer(nn.Module):
    """Count the pool's n-grams in each row (tokens ``skip + 1`` apart for every skip up to
    ``max_skip_count``; unigrams once), then report counts (TF), presence weights (IDF) or
    weighted counts (TFIDF), vectorised as window-vs-pool comparisons.

    onnx2torch has no TfIdfVectorizer converter. String pools are out of reach: torch has no
    string tensors.
    """

    def __init__(self, attrs: dict[str, Any]) -> None:
        super().__init__()
        self.min_n = int(attrs["min_gram_length"])
        self.max_n = int(attrs["max_gram_length"])
        self.max_skip = int(attrs["max_skip_count"])
        self.mode = str(attrs["mode"])
        indexes = [int(i) for i in attrs["ngram_indexes"]]
        self.size = max(indexes) + 1
        pool = [int(v) for v in attrs["pool_int64s"]]
        starts = [int(c) for c in attrs["ngram_counts"]]
        self.lengths: list[int] = []
        gram_id = 0
        for n, start in enumerate(starts, 1):
            end = starts[n] if n < len(starts) else len(pool)
            grams = [pool[i : i + n] for i in range(start, end, n)]
            if self.min_n <= n <= self.max_n and grams:
                self.register_buffer(f"grams_{n}", torch.tensor(grams, dtype=torch.int64), persistent=False)
                self.register_buffer(
                    f"slots_{n}",
                    torch.tensor(indexes[gram_id : gram_id + len(grams)], dtype=torch.int64),
                    persistent=False,
                )
                self.lengths.append(n)
            gram_id += len(grams)
        weights = attrs.get("weights")
        self.register_buffer(
            "weights", None if not weights else torch.tensor(list(weights), dtype=torch.float32), persistent=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(1, -1) if x.dim() <= 1 else x
        tokens = rows.to(torch.int64)
        length = tokens.shape[1]
        counts = torch.zeros(rows.shape[0], self.size, dtype=torch.float32, device=x.device)
        for skip in range(self.max_skip + 1):
            step = skip + 1
            for n in self.lengths:
                if n == 1 and skip > 0:
                    continue  # unigrams are counted once, not per skip
                span = (n - 1) * step + 1
                if span > length:
                    continue
                windows = tokens.unfold(1, span, 1)[:, :, ::step]  # (rows, positions, n)
                grams = getattr(self, f"grams_{n}")
                hits = (windows.unsqueeze(2) == grams.reshape(1, 1, -1, n)).all(-1).sum(1)  # (rows, grams)
                counts = counts.index_add(1, getattr(self, f"slots_{n}"), hits.to(torch.float32))
        if self.mode == "IDF":
            counts = (counts > 0).to(torch.float32) * (self.weights if self.weights is not None else 1.0)
        elif self.mode == "TFIDF" and self.weights is not None:
            counts = counts * self.weights
        return counts.reshape(-1) if x.dim() <= 1 else counts


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    if not attrs.get("pool_int64s"):
        raise NotImplementedError("TfIdfVectorizer over strings (torch has no string tensors)")
    return result(OnnxTfIdfVectorizer(attrs), node)


OP = CustomOp.define(OnnxTfIdfVectorizer, name="TfIdfVectorizer", torch=converters(("TfIdfVectorizer",), _convert))
