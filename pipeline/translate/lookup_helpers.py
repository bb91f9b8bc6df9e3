"""Helper modules for Keras' lookup preprocessing layers in ``model.py``: Discretization, IntegerLookup.

Registered into :data:`pipeline.translate.helpers.HELPERS`; entries in
:mod:`pipeline.translate.layers.lookup` name the ones they need. They use only torch.
"""

from __future__ import annotations

_ENCODE_CATEGORIES = '''
def encode_categories(index, positions, output_mode):
    """Keras' one_hot / multi_hot / count encoding of category indices, in the dtype of ``positions``.

    ``positions`` is 0, 1, ..., depth - 1: an index outside them (a mask token, an id Keras has
    no index for) has no position. one_hot drops a last axis of size 1 first; multi_hot and
    count reduce over axis 1, as TensorFlow's bincount does for a batch of rows.
    """
    if output_mode == "one_hot" and index.dim() > 1 and index.shape[-1] == 1:
        index = index.squeeze(-1)
    hot = (index.unsqueeze(-1) == positions).to(positions.dtype)
    if output_mode == "one_hot":
        return hot
    if output_mode == "multi_hot":
        return hot.amax(dim=1)
    return hot.sum(dim=1)
'''

_DISCRETIZATION = '''
class Discretization(nn.Module):
    """Keras Discretization: bucket i holds boundaries[i-1] <= x < boundaries[i].

    TensorFlow compares integer inputs with the float32 boundaries as float32, float64 inputs as
    float64; NaN lands in the last bucket, as torch.bucketize puts it. output_mode one_hot,
    multi_hot or count encodes the buckets (encode_categories) in the dtype of ``positions``,
    which follows the module's (``.double()``).
    """

    def __init__(self, size, output_mode="int", out_dtype=torch.float32):
        super().__init__()
        self.register_buffer("boundaries", torch.zeros(size))
        self.output_mode = output_mode
        if output_mode != "int":
            self.register_buffer("positions", torch.arange(size + 1, dtype=out_dtype), persistent=False)

    def forward(self, x):
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        index = torch.bucketize(x.to(dtype), self.boundaries.to(dtype), right=True, out_int32=True)
        if self.output_mode == "int":
            return index
        return encode_categories(index, self.positions, self.output_mode)
'''

_INTEGER_LOOKUP = '''
class IntegerLookup(nn.Module):
    """Keras IntegerLookup: a search of the sorted keys, then their values.

    A key not in the table maps to ``default`` (the OOV index; -1 with several OOV indices, which
    then become ``oov_start + x mod num_oov``, or with none, where Keras raises); ``mask_key``
    maps to ``mask_value``. output_mode one_hot, multi_hot or count encodes the indices over
    ``depth`` positions (encode_categories), in the dtype of ``positions``, which follows the
    module's (``.double()``).
    """

    def __init__(
        self, size, default, mask_key=None, mask_value=0, num_oov=1, oov_start=0,
        output_mode="int", depth=None, out_dtype=torch.float32,
    ):
        super().__init__()
        self.register_buffer("keys", torch.zeros(size, dtype=torch.int64))
        self.register_buffer("values", torch.zeros(size, dtype=torch.int64))
        self.default = default
        self.mask_key = mask_key
        self.mask_value = mask_value
        self.num_oov = num_oov
        self.oov_start = oov_start
        self.output_mode = output_mode
        if depth is not None:
            self.register_buffer("positions", torch.arange(depth, dtype=out_dtype), persistent=False)

    def forward(self, x):
        x = x.long()
        position = torch.searchsorted(self.keys, x).clamp(max=self.keys.numel() - 1)
        out = torch.where(self.keys[position] == x, self.values[position], self.default)
        if self.mask_key is not None:
            out = torch.where(x == self.mask_key, self.mask_value, out)
        if self.num_oov > 1:
            out = torch.where(out == -1, x.remainder(self.num_oov) + self.oov_start, out)
        if self.output_mode == "int":
            return out
        return encode_categories(out, self.positions, self.output_mode)
'''

LOOKUP_HELPERS: dict[str, str] = {
    "encode_categories": _ENCODE_CATEGORIES,
    "Discretization": _DISCRETIZATION,
    "IntegerLookup": _INTEGER_LOOKUP,
}
