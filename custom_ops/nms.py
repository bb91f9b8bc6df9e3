"""ONNX NonMaxSuppression (every version), boxes with flipped corners included."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, result


class OnnxNonMaxSuppression(nn.Module):
    """Greedy per-batch, per-class NMS: keep boxes scoring above the threshold, best first, dropping
    those overlapping a kept one by more than the IoU threshold; ``(batch, class, box)`` rows.

    onnx2torch hands corner boxes to torchvision unchanged, so boxes whose corners come in the
    other order (``y2 < y1``), which ONNX allows, get a negative area and wrong overlaps.
    """

    def __init__(self, center_point_box: bool) -> None:
        super().__init__()
        self.center = center_point_box

    def forward(
        self,
        boxes: torch.Tensor,
        scores: torch.Tensor,
        max_output_boxes_per_class: torch.Tensor | None = None,
        iou_threshold: torch.Tensor | None = None,
        score_threshold: torch.Tensor | None = None,
    ) -> torch.Tensor:
        from torchvision.ops import box_convert, nms

        limit = 0 if max_output_boxes_per_class is None else int(max_output_boxes_per_class.reshape(-1)[0])
        iou = 0.0 if iou_threshold is None else float(iou_threshold.reshape(-1)[0])
        floor = None if score_threshold is None else float(score_threshold.reshape(-1)[0])
        rows = []
        for b in range(boxes.shape[0]):
            corners = boxes[b].float()
            if self.center:
                corners = box_convert(corners, in_fmt="cxcywh", out_fmt="xyxy")
            else:  # [y1, x1, y2, x2] in any corner order -> [x_min, y_min, x_max, y_max]
                y = torch.stack([corners[:, 0], corners[:, 2]], dim=1)
                x = torch.stack([corners[:, 1], corners[:, 3]], dim=1)
                corners = torch.stack([x.amin(1), y.amin(1), x.amax(1), y.amax(1)], dim=1)
            for c in range(scores.shape[1]):
                class_scores = scores[b, c].float()
                candidates = torch.arange(class_scores.shape[0], device=boxes.device)
                if floor is not None:
                    candidates = candidates[class_scores > floor]
                if limit <= 0 or candidates.numel() == 0:
                    continue
                kept = candidates[nms(corners[candidates], class_scores[candidates], iou)][:limit]
                rows.append(torch.stack([torch.full_like(kept, b), torch.full_like(kept, c), kept], dim=1))
        if not rows:
            return torch.zeros((0, 3), dtype=torch.int64, device=boxes.device)
        return torch.cat(rows).to(torch.int64)


def _convert(node: Any, graph: Any) -> Any:
    return result(OnnxNonMaxSuppression(bool(attributes(node).get("center_point_box", 0))), node)


OP = CustomOp.define(
    OnnxNonMaxSuppression, name="NonMaxSuppression", torch=converters(("NonMaxSuppression",), _convert)
)
