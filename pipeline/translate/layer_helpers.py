"""Module-level helper definitions for the recurrent and attention entries (torch only).

Registered into :data:`pipeline.translate.helpers.HELPERS`; an entry names the ones it needs in
``Translation.helpers`` and codegen writes each once, above the model class. The recurrent loops
subclass ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` so that their parameters carry the same names and
shapes as the fast modules (``weight_ih_l0`` ...) and load the same state dict.
"""

from __future__ import annotations

_SCAN = '''
def keras_scan(step, x, state, mask=None, zero_output=False):
    """Run ``step`` over the time axis (1) of ``x`` as Keras runs a recurrent cell: where ``mask``
    is False the state is kept and the output repeats the previous one (zeros with zero_output)."""
    outputs = []
    output = torch.zeros_like(state[0])
    for t in range(x.shape[1]):
        new_output, new_state = step(x[:, t], state)
        if mask is not None:
            keep = mask[:, t, None]
            new_state = tuple(torch.where(keep, n, s) for n, s in zip(new_state, state))
            new_output = torch.where(keep, new_output, torch.zeros_like(new_output) if zero_output else output)
        output, state = new_output, new_state
        outputs.append(output)
    return torch.stack(outputs, 1), state


class KerasRecurrent:
    """The Python time loop shared by the Keras* recurrent modules: directions, masking, dropout.

    forward(x, hx=None, mask=None) returns what the torch module returns: the output sequence
    (N, T, directions * hidden) and the final states stacked as (directions, N, hidden).
    """

    def run(self, x, hx, mask):
        n, size = x.shape[0], self.hidden_size
        directions = 2 if self.bidirectional else 1
        if hx is None:
            zeros = x.new_zeros(directions, n, size)
            hx = tuple(zeros for _ in range(self.n_states))
        elif not isinstance(hx, tuple):
            hx = (hx,)
        if mask is not None:
            mask = mask.bool()
        outputs, finals = [], []
        for d, suffix in enumerate(["_l0", "_l0_reverse"][:directions]):
            x_drop = h_drop = None  # Keras: one dropout mask per sequence and direction
            if self.training and self.keras_dropout > 0:
                x_drop = F.dropout(x.new_ones(x.shape[0], x.shape[2]), self.keras_dropout)
            if self.training and self.keras_recurrent_dropout > 0:
                h_drop = F.dropout(x.new_ones(n, size), self.keras_recurrent_dropout)
            weights = [getattr(self, f"{w}{suffix}", None) for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            seq = x if d == 0 else x.flip(1)
            seq = seq if x_drop is None else seq * x_drop[:, None]
            m = mask if mask is None or d == 0 else mask.flip(1)

            def step(xt, state, weights=weights):
                return self.cell(xt, state, weights, h_drop)

            out, state = keras_scan(step, seq, tuple(h[d] for h in hx), m, self.zero_output_for_mask)
            outputs.append(out if d == 0 else out.flip(1))
            finals.append(state)
        output = torch.cat(outputs, -1)
        states = tuple(torch.stack([f[i] for f in finals]) for i in range(self.n_states))
        return output, states if self.n_states > 1 else states[0]
'''

_LSTM = '''
class KerasLSTM(KerasRecurrent, nn.LSTM):
    """nn.LSTM's weights stepped in Python as Keras steps them: masked steps keep the state,
    any activations, Keras's input / recurrent dropout (one mask per sequence) in training."""

    n_states = 2

    def __init__(self, input_size, hidden_size, activation=torch.tanh, recurrent_activation=torch.sigmoid,
                 bidirectional=False, dropout=0.0, recurrent_dropout=0.0, zero_output_for_mask=False, bias=True):
        super().__init__(input_size, hidden_size, batch_first=True, bidirectional=bidirectional, bias=bias)
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self.keras_dropout, self.keras_recurrent_dropout = dropout, recurrent_dropout
        self.zero_output_for_mask = zero_output_for_mask

    def cell(self, x, state, weights, h_drop):
        w_ih, w_hh, b_ih, b_hh = weights
        h, c = state
        hd = h if h_drop is None else h * h_drop
        gates = F.linear(x, w_ih, b_ih) + F.linear(hd, w_hh, b_hh)
        i, f, g, o = gates.chunk(4, 1)  # Keras's (i, f, c, o) is torch's (i, f, g, o)
        act, rec = self.activation, self.recurrent_activation
        c = rec(f) * c + rec(i) * act(g)
        h = rec(o) * act(c)
        return h, (h, c)

    def forward(self, x, hx=None, mask=None):
        exact = self.activation is torch.tanh and self.recurrent_activation is torch.sigmoid
        if mask is None and exact and not self.training:  # the fused kernel computes the same
            return nn.LSTM.forward(self, x, hx)
        return self.run(x, hx, mask)
'''

_GRU = '''
class KerasGRU(KerasRecurrent, nn.GRU):
    """nn.GRU's weights stepped in Python as Keras steps them: masked steps keep the state, any
    activations, reset_after=False (reset gate applied before the recurrent kernel), dropout."""

    n_states = 1

    def __init__(self, input_size, hidden_size, activation=torch.tanh, recurrent_activation=torch.sigmoid,
                 bidirectional=False, dropout=0.0, recurrent_dropout=0.0, zero_output_for_mask=False,
                 reset_after=True, bias=True):
        super().__init__(input_size, hidden_size, batch_first=True, bidirectional=bidirectional, bias=bias)
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self.keras_dropout, self.keras_recurrent_dropout = dropout, recurrent_dropout
        self.zero_output_for_mask = zero_output_for_mask
        self.reset_after = reset_after

    def cell(self, x, state, weights, h_drop):
        w_ih, w_hh, b_ih, b_hh = weights
        (h,) = state
        hd = h if h_drop is None else h * h_drop
        x_r, x_z, x_n = F.linear(x, w_ih, b_ih).chunk(3, 1)  # torch's (r, z, n) order
        w_hr, w_hz, w_hn = w_hh.chunk(3, 0)
        b_hr, b_hz, b_hn = b_hh.chunk(3, 0) if b_hh is not None else (None, None, None)
        rec = self.recurrent_activation
        r = rec(x_r + F.linear(hd, w_hr, b_hr))
        z = rec(x_z + F.linear(hd, w_hz, b_hz))
        if self.reset_after:
            n = self.activation(x_n + r * F.linear(hd, w_hn, b_hn))
        else:
            n = self.activation(x_n + F.linear(r * hd, w_hn, b_hn))
        h = z * h + (1 - z) * n
        return h, (h,)

    def forward(self, x, hx=None, mask=None):
        exact = self.activation is torch.tanh and self.recurrent_activation is torch.sigmoid and self.reset_after
        if mask is None and exact and not self.training:  # the fused kernel computes the same
            return nn.GRU.forward(self, x, hx)
        return self.run(x, hx, mask)
'''

_RNN = '''
class KerasSimpleRNN(KerasRecurrent, nn.RNN):
    """nn.RNN's weights stepped in Python as Keras steps them: masked steps keep the state, any
    activation, Keras's input / recurrent dropout in training."""

    n_states = 1

    def __init__(self, input_size, hidden_size, activation=torch.tanh, bidirectional=False, dropout=0.0,
                 recurrent_dropout=0.0, zero_output_for_mask=False, bias=True):
        super().__init__(input_size, hidden_size, batch_first=True, bidirectional=bidirectional, bias=bias)
        self.activation = activation
        self.keras_dropout, self.keras_recurrent_dropout = dropout, recurrent_dropout
        self.zero_output_for_mask = zero_output_for_mask

    def cell(self, x, state, weights, h_drop):
        w_ih, w_hh, b_ih, b_hh = weights
        (h,) = state
        hd = h if h_drop is None else h * h_drop
        h = self.activation(F.linear(x, w_ih, b_ih) + F.linear(hd, w_hh, b_hh))
        return h, (h,)

    def forward(self, x, hx=None, mask=None):
        if mask is None and self.activation is torch.tanh and not self.training:  # the fused kernel
            return nn.RNN.forward(self, x, hx)
        return self.run(x, hx, mask)
'''

_MHA = '''
class MultiHeadAttention(nn.Module):
    """Keras MultiHeadAttention: query/key/value projections to (heads, key_dim), scaled dot-product
    attention, output projection. One nn.Linear per Keras EinsumDense (same names)."""

    def __init__(self, query_dim, key_dim_in, value_dim_in, num_heads, key_dim, value_dim, output_dim,
                 bias=True, dropout=0.0, additive_mask=False):
        super().__init__()
        self.num_heads, self.key_dim, self.value_dim, self.dropout = num_heads, key_dim, value_dim, dropout
        self.additive_mask = additive_mask
        self.query = nn.Linear(query_dim, num_heads * key_dim, bias=bias)
        self.key = nn.Linear(key_dim_in, num_heads * key_dim, bias=bias)
        self.value = nn.Linear(value_dim_in, num_heads * value_dim, bias=bias)
        self.output = nn.Linear(num_heads * value_dim, output_dim, bias=bias)

    def forward(self, query, value, key=None, attention_mask=None, return_attention_scores=False):
        """attention_mask: bool (N, Tq, Tk), True where attention is allowed (Keras's convention)."""
        key = value if key is None else key
        n = query.shape[0]
        q = self.query(query).unflatten(-1, (self.num_heads, self.key_dim)).transpose(1, 2)
        k = self.key(key).unflatten(-1, (self.num_heads, self.key_dim)).transpose(1, 2)
        v = self.value(value).unflatten(-1, (self.num_heads, self.value_dim)).transpose(1, 2)
        if attention_mask is None and not return_attention_scores:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
            scores = None
        else:
            scores = (q * self.key_dim**-0.5) @ k.transpose(-2, -1)
            if attention_mask is not None:
                masked = ~attention_mask[:, None]
                if self.additive_mask:  # tf_keras's softmax adds -1e9 where masked
                    scores = scores - 1e9 * masked.to(scores.dtype)
                else:  # Keras 3 replaces masked scores (no gradient flows to them)
                    scores = scores.masked_fill(masked, -1e9)
            scores = torch.softmax(scores, dim=-1)
            out = F.dropout(scores, self.dropout, self.training) @ v
        out = self.output(out.transpose(1, 2).reshape(n, out.shape[2], -1))
        return (out, scores) if return_attention_scores else out
'''

LAYER_HELPERS: dict[str, str] = {
    "keras_scan": _SCAN,
    "KerasLSTM": _LSTM,
    "KerasGRU": _GRU,
    "KerasSimpleRNN": _RNN,
    "MultiHeadAttention": _MHA,
}
