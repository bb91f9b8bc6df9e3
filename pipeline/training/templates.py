"""Source text of the helpers ``model.py`` gets for training: Keras's optimizers and losses in torch.

Each entry of :data:`OPTIMIZERS` / :data:`LOSSES` is a module-level definition written into
``model.py`` only when the compile config uses it; :data:`KERAS_OPTIMIZER` is their common base.

Why they exist: torch's Adam adds epsilon to ``sqrt(v_hat)`` while Keras adds it to ``sqrt(v)``
and folds the bias correction into the step size ("epsilon hat"); torch's RMSprop and Adagrad add
epsilon outside the square root, Keras inside; torch's ``weight_decay`` is an L2 term added to the
gradient (except AdamW) while Keras's is decoupled (``p -= lr * wd * p``) for every optimizer;
Keras clips gradients (clipnorm, global_clipnorm, clipvalue) inside the optimizer and evaluates a
learning-rate schedule at its ``iterations`` counter. Keras computes cross-entropies on softmax
and sigmoid outputs from their logits, elsewhere from probabilities clipped to [1e-7, 1 - 1e-7].
"""

from __future__ import annotations

KERAS_OPTIMIZER = '''
class KerasOptimizer(torch.optim.Optimizer):
    """The step order of a Keras optimizer: clip the gradients (clipnorm, global_clipnorm or
    clipvalue), decay the weights (decoupled: ``p -= lr * weight_decay * p``), then the update;
    the learning rate is ``schedule(iterations)`` when a schedule is given."""

    def __init__(self, params, lr, schedule=None, weight_decay=None, clipnorm=None,
                 global_clipnorm=None, clipvalue=None, **hyper):
        super().__init__(params, dict(lr=lr, **hyper))
        self.schedule = schedule
        self.weight_decay = weight_decay
        self.clipnorm, self.global_clipnorm, self.clipvalue = clipnorm, global_clipnorm, clipvalue
        self.iterations = 0

    def current_lr(self, group):
        return self.schedule(self.iterations) if self.schedule is not None else group["lr"]

    def clipped(self, grads):
        if self.clipnorm:
            return [g * self.clipnorm / torch.clamp(g.norm(), min=self.clipnorm) for g in grads]
        if self.global_clipnorm:
            norm = torch.sqrt(sum((g * g).sum() for g in grads))
            return [g * (self.global_clipnorm * torch.clamp(1.0 / norm, max=1.0 / self.global_clipnorm))
                    for g in grads]
        if self.clipvalue:
            return [g.clamp(-self.clipvalue, self.clipvalue) for g in grads]
        return grads

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        pairs = [(p, group) for group in self.param_groups for p in group["params"] if p.grad is not None]
        grads = self.clipped([p.grad for p, _ in pairs])
        for (p, group), g in zip(pairs, grads):
            lr = self.current_lr(group)
            if self.weight_decay:
                p.sub_(p * (self.weight_decay * lr))
            self.update(p, g, lr, self.state[p], group, self.iterations + 1)
        self.iterations += 1
        return loss
'''

OPTIMIZERS = {
    "SGD": '''
class KerasSGD(KerasOptimizer):
    """Keras SGD: ``m = momentum * m - lr * g``; ``p += m`` (nesterov: ``p += momentum * m - lr * g``)."""

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(params, lr, momentum=momentum, nesterov=nesterov, **kwargs)

    def update(self, p, g, lr, state, group, step):
        momentum = group["momentum"]
        if not momentum:
            p.sub_(g * lr)
            return
        m = state.setdefault("m", torch.zeros_like(p))
        m.mul_(momentum).sub_(g * lr)
        p.add_(m * momentum - g * lr if group["nesterov"] else m)
''',
    "Adam": '''
class KerasAdam(KerasOptimizer):
    """Keras Adam/AdamW: epsilon is added to ``sqrt(v)`` and the bias correction goes into the step
    size, ``p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon)``; torch adds epsilon
    to ``sqrt(v_hat)`` instead. Weight decay is decoupled (AdamW's ``weight_decay``)."""

    def __init__(self, params, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(params, lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad, **kwargs)

    def update(self, p, g, lr, state, group, step):
        b1, b2 = group["beta_1"], group["beta_2"]
        m = state.setdefault("m", torch.zeros_like(p))
        v = state.setdefault("v", torch.zeros_like(p))
        alpha = lr * math.sqrt(1 - b2**step) / (1 - b1**step)
        m.add_((g - m) * (1 - b1))
        v.add_((g * g - v) * (1 - b2))
        if group["amsgrad"]:
            v_hat = state.setdefault("v_hat", torch.zeros_like(p))
            torch.maximum(v_hat, v, out=v_hat)
            v = v_hat
        p.sub_(m * alpha / (v.sqrt() + group["epsilon"]))
''',
    "RMSprop": '''
class KerasRMSprop(KerasOptimizer):
    """Keras RMSprop: epsilon inside the square root, ``p -= lr * g / sqrt(v + epsilon)`` (centered:
    ``sqrt(v - mean_g^2 + epsilon)``); torch adds epsilon outside it."""

    def __init__(self, params, lr=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(params, lr, rho=rho, momentum=momentum, epsilon=epsilon, centered=centered, **kwargs)

    def update(self, p, g, lr, state, group, step):
        rho = group["rho"]
        v = state.setdefault("v", torch.zeros_like(p))
        v.mul_(rho).add_(g * g * (1 - rho))
        denominator = v + group["epsilon"]
        if group["centered"]:
            mean_g = state.setdefault("mean_g", torch.zeros_like(p))
            mean_g.mul_(rho).add_(g * (1 - rho))
            denominator = denominator - mean_g * mean_g
        increment = lr * g / denominator.sqrt()
        if group["momentum"] > 0:
            m = state.setdefault("m", torch.zeros_like(p))
            m.mul_(group["momentum"]).add_(increment)
            p.sub_(m)
        else:
            p.sub_(increment)
''',
    "Adagrad": '''
class KerasAdagrad(KerasOptimizer):
    """Keras Adagrad: ``acc += g^2``; ``p -= lr * g / sqrt(acc + epsilon)`` (torch: epsilon outside
    the square root)."""

    def __init__(self, params, lr=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(params, lr, initial_accumulator_value=initial_accumulator_value, epsilon=epsilon, **kwargs)

    def update(self, p, g, lr, state, group, step):
        acc = state.setdefault("acc", torch.full_like(p, group["initial_accumulator_value"]))
        acc.add_(g * g)
        p.sub_(lr * g / (acc + group["epsilon"]).sqrt())
''',
}
OPTIMIZERS["AdamW"] = OPTIMIZERS["Adam"]

# Per-sample losses (Keras reduces them with ``reduce``); ``axis`` is the last one, as in Keras.
LOSS_REDUCE = '''
def reduce_loss(values, reduction):
    """Keras's reduction of per-sample losses: "sum", else the mean over every element."""
    return values.sum() if reduction == "sum" else values.sum() / max(values.numel(), 1)
'''

LOSSES = {
    "categorical_crossentropy": '''
def categorical_crossentropy(output, target, from_logits=False, label_smoothing=0.0, softmax_output=False):
    """Keras categorical cross-entropy: label smoothing ``t * (1 - s) + s / classes``; from a softmax
    output Keras uses its logits (here ``log(p)`` of it), otherwise probabilities renormalised and
    clipped to [1e-7, 1 - 1e-7]."""
    target = target.to(output.dtype)
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / output.shape[-1]
    if from_logits:
        log_p = torch.log_softmax(output, dim=-1)
    elif softmax_output:
        log_p = torch.log(output.clamp_min(torch.finfo(output.dtype).tiny))
    else:
        p = output / output.sum(dim=-1, keepdim=True)
        log_p = torch.log(p.clamp(1e-7, 1.0 - 1e-7))
    return -(target * log_p).sum(dim=-1)
''',
    "sparse_categorical_crossentropy": '''
def sparse_categorical_crossentropy(output, target, from_logits=False, softmax_output=False):
    """Keras sparse categorical cross-entropy: integer targets (a trailing axis of 1 is dropped);
    from probabilities Keras takes ``log(clip(p, 1e-7, 1 - 1e-7))`` as logits."""
    target = target.long()
    if target.dim() == output.dim() and target.shape[-1] == 1:
        target = target.squeeze(-1)
    if from_logits:
        logits = output
    elif softmax_output:
        logits = torch.log(output.clamp_min(torch.finfo(output.dtype).tiny))
    else:
        logits = torch.log(output.clamp(1e-7, 1.0 - 1e-7))
    log_p = torch.log_softmax(logits, dim=-1)
    return -log_p.gather(-1, target.unsqueeze(-1)).squeeze(-1)
''',
    "binary_crossentropy": '''
def binary_crossentropy(output, target, from_logits=False, label_smoothing=0.0, sigmoid_output=False):
    """Keras binary cross-entropy, averaged over the last axis: label smoothing ``t * (1 - s) + s / 2``;
    from a sigmoid output Keras uses its logits, otherwise probabilities clipped to [1e-7, 1 - 1e-7]."""
    target = target.to(output.dtype)
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        values = F.binary_cross_entropy_with_logits(output, target, reduction="none")
    else:
        tiny = torch.finfo(output.dtype).tiny
        p = output if sigmoid_output else output.clamp(1e-7, 1.0 - 1e-7)
        values = -(target * torch.log(p.clamp_min(tiny)) + (1 - target) * torch.log((1 - p).clamp_min(tiny)))
    return values.mean(dim=-1)
''',
    "mean_squared_error": '''
def mean_squared_error(output, target):
    """Keras mean squared error: averaged over the last axis."""
    return (output - target.to(output.dtype)).square().mean(dim=-1)
''',
    "mean_absolute_error": '''
def mean_absolute_error(output, target):
    """Keras mean absolute error: averaged over the last axis."""
    return (output - target.to(output.dtype)).abs().mean(dim=-1)
''',
    "huber": '''
def huber(output, target, delta=1.0):
    """Keras Huber loss: ``0.5 e^2`` where ``|e| <= delta``, else ``delta |e| - 0.5 delta^2``; mean
    over the last axis."""
    error = output - target.to(output.dtype)
    a = error.abs()
    return torch.where(a <= delta, 0.5 * error * error, delta * a - 0.5 * delta * delta).mean(dim=-1)
''',
    "kl_divergence": '''
def kl_divergence(output, target):
    """Keras KL divergence: both clipped to [1e-7, 1], ``sum(t * log(t / p))`` over the last axis."""
    target = target.to(output.dtype).clamp(1e-7, 1.0)
    p = output.clamp(1e-7, 1.0)
    return (target * torch.log(target / p)).sum(dim=-1)
''',
}

CONSTRAINTS = '''
def keras_constraint(p, kind, dims=None, max_value=None, min_value=None, rate=1.0):
    """Keras weight constraints, applied after every optimizer step as Keras does (epsilon 1e-7)."""
    if kind == "NonNeg":
        p.clamp_(min=0.0)
        return
    norms = p.square().sum(dim=dims, keepdim=True).sqrt()
    if kind == "MaxNorm":
        p.mul_(norms.clamp(0.0, max_value) / (1e-7 + norms))
    elif kind == "UnitNorm":
        p.div_(1e-7 + norms)
    elif kind == "MinMaxNorm":
        desired = rate * norms.clamp(min_value, max_value) + (1 - rate) * norms
        p.mul_(desired / (1e-7 + norms))
'''
