"""Module-level helper definitions that translations may put into ``model.py``.

An entry names the helpers it needs (``Translation.helpers``); ``codegen`` writes each one
once, above the model class. They use only torch.
"""

from __future__ import annotations

from pipeline.translate.layer_helpers import LAYER_HELPERS
from pipeline.translate.lookup_helpers import LOOKUP_HELPERS

HELPERS: dict[str, str] = {
    "SeparableConv": '''
class SeparableConv(nn.Module):
    """Keras SeparableConv: a depthwise convolution, then a pointwise (1x1) one."""

    def __init__(self, depthwise, pointwise):
        super().__init__()
        self.depthwise = depthwise
        self.pointwise = pointwise

    def forward(self, x):
        return self.pointwise(self.depthwise(x))
''',
    "avg_pool_same": '''
def avg_pool_same(x, kernel_size, stride, padding):
    """Average pooling with TensorFlow's padding="same": the padding (F.pad order) is not counted."""
    pool = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[len(kernel_size) - 1]
    total = pool(F.pad(x, padding), kernel_size, stride)
    count = pool(F.pad(torch.ones_like(x[:1, :1]), padding), kernel_size, stride)
    return total / count
''',
    "Normalization": '''
class Normalization(nn.Module):
    """Keras Normalization: (x - mean) / max(sqrt(variance), 1e-7), with fixed statistics."""

    def __init__(self, shape):
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("variance", torch.ones(shape))

    def forward(self, x):
        return (x - self.mean) / torch.clamp(self.variance.sqrt(), min=1e-7)
''',
    "LayerScale": '''
class LayerScale(nn.Module):
    """Keras LayerScale (ConvNeXt): the last axis multiplied by a learned vector."""

    def __init__(self, channels):
        super().__init__()
        self.gamma = nn.Parameter(torch.empty(channels))

    def forward(self, x):
        return x * self.gamma
''',
    "Scale": '''
class Scale(nn.Module):
    """A learned per-channel (axis 1) scale and/or offset, for Keras layers that have one but no torch module."""

    def __init__(self, channels, dims, scale=True, offset=True):
        super().__init__()
        shape = (channels,) + (1,) * dims
        self.weight = nn.Parameter(torch.ones(shape)) if scale else None
        self.bias = nn.Parameter(torch.zeros(shape)) if offset else None

    def forward(self, x):
        if self.weight is not None:
            x = x * self.weight
        return x + self.bias if self.bias is not None else x
''',
    "GaussianNoise": '''
class GaussianNoise(nn.Module):
    """Keras GaussianNoise: adds N(0, stddev) noise in training, nothing in eval mode."""

    def __init__(self, stddev):
        super().__init__()
        self.stddev = stddev

    def forward(self, x):
        return x + torch.randn_like(x) * self.stddev if self.training else x
''',
    "GaussianDropout": '''
class GaussianDropout(nn.Module):
    """Keras GaussianDropout: multiplies by N(1, rate / (1 - rate)) noise in training only."""

    def __init__(self, rate):
        super().__init__()
        self.rate = rate

    def forward(self, x):
        if not self.training or self.rate == 0:
            return x
        return x * (1 + torch.randn_like(x) * (self.rate / (1 - self.rate)) ** 0.5)
''',
    "SharedDropout": '''
class SharedDropout(nn.Module):
    """Keras Dropout with a noise_shape: one keep/drop draw shared along the axes of size 1."""

    def __init__(self, p, noise_shape):
        super().__init__()
        self.p = p
        self.noise_shape = noise_shape

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        shape = [x.shape[i] if n is None else n for i, n in enumerate(self.noise_shape)]
        keep = torch.rand(shape, device=x.device) >= self.p
        return x * keep / (1 - self.p)
''',
}

_KERAS_BATCH_NORM = '''
class KerasBatchNorm{d}d(nn.BatchNorm{d}d):
    """nn.BatchNorm{d}d whose running variance is updated as Keras does, with the biased batch variance
    (torch uses the unbiased one); evaluation and the normalisation itself are BatchNorm{d}d's own."""

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        with torch.no_grad():
            dims = [0, *range(2, x.dim())]
            self.running_mean.lerp_(x.mean(dims), self.momentum)
            self.running_var.lerp_(x.var(dims, unbiased=False), self.momentum)
            self.num_batches_tracked.add_(1)
        return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
'''
# BatchNorm{1,2,3}d with Keras's moving-variance update
HELPERS.update({f"KerasBatchNorm{d}d": _KERAS_BATCH_NORM.replace("{d}", str(d)) for d in (1, 2, 3)})
HELPERS.update(LAYER_HELPERS)  # recurrent loops, multi-head attention
HELPERS.update(LOOKUP_HELPERS)  # Discretization, IntegerLookup
