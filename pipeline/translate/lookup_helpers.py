"""Helper modules for Keras' lookup preprocessing layers in ``model.py``: Discretization, IntegerLookup.

Registered into :data:`pipeline.translate.helpers.HELPERS`; entries in
:mod:`pipeline.translate.layers.preprocessing` name the ones they need. They use only torch.
"""

from __future__ import annotations

_DISCRETIZATION = '''
class Discretization(nn.Module):
    """Keras Discretization (output_mode "int"): bucket i holds boundaries[i-1] <= x < boundaries[i].

    TensorFlow compares integer inputs with the float32 boundaries as float32, float64 inputs as
    float64; NaN lands in the last bucket, as torch.bucketize puts it.
    """

    def __init__(self, size):
        super().__init__()
        self.register_buffer("boundaries", torch.zeros(size))

    def forward(self, x):
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        return torch.bucketize(x.to(dtype), self.boundaries.to(dtype), right=True, out_int32=True)
'''

_INTEGER_LOOKUP = '''
class IntegerLookup(nn.Module):
    """Keras IntegerLookup (output_mode "int"): a search of the sorted keys, then their values.

    A key not in the table maps to ``default`` (the OOV index; -1 with several OOV indices, which
    then become ``oov_start + x mod num_oov``); ``mask_key`` maps to ``mask_value``.
    """

    def __init__(self, size, default, mask_key=None, mask_value=0, num_oov=1, oov_start=0):
        super().__init__()
        self.register_buffer("keys", torch.zeros(size, dtype=torch.int64))
        self.register_buffer("values", torch.zeros(size, dtype=torch.int64))
        self.default = default
        self.mask_key = mask_key
        self.mask_value = mask_value
        self.num_oov = num_oov
        self.oov_start = oov_start

    def forward(self, x):
        x = x.long()
        position = torch.searchsorted(self.keys, x).clamp(max=self.keys.numel() - 1)
        out = torch.where(self.keys[position] == x, self.values[position], self.default)
        if self.mask_key is not None:
            out = torch.where(x == self.mask_key, self.mask_value, out)
        if self.num_oov > 1:
            out = torch.where(out == -1, x.remainder(self.num_oov) + self.oov_start, out)
        return out
'''

LOOKUP_HELPERS: dict[str, str] = {"Discretization": _DISCRETIZATION, "IntegerLookup": _INTEGER_LOOKUP}
