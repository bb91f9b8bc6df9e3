"""Map ONNX node names back to the Keras layers they came from.

tf2onnx keeps TensorFlow name scopes in node names, e.g.
``mobilenetv2_1.00_224_1/block_1_expand_BN_1/batchnorm/mul_1``: the scope segments are the model
and layer names, with a ``_<n>`` suffix TensorFlow adds when a scope is entered again.
"""

from __future__ import annotations

import re

_SUFFIX = re.compile(r"_\d+$")


def layer_of(node_name: str, layers: list[str] | set[str]) -> str | None:
    """The innermost Keras layer named in ``node_name``'s scope, or None."""
    known = set(layers)
    if not known or not node_name:
        return None
    found = None
    for segment in node_name.split("/")[:-1] or node_name.split("/"):
        if segment in known:
            found = segment
        else:
            stripped = _SUFFIX.sub("", segment)
            if stripped in known:
                found = stripped
    return found
