"""Assemble ``model.py``: one ``nn.Module`` class named after the model, and ``load()``.

The class has one attribute per Keras layer (named after it), ``reset_parameters()`` that
initialises as Keras does, and a ``forward()`` taking the Keras inputs positionally in Keras
order and returning one tensor, a tuple (several outputs) or a dict (a Keras dict of outputs).
The file imports only torch, safetensors and the standard library.

Variables of a straight chain of calls share one name (``x = self.conv1(x)``) as in code written
by hand; a value used again later keeps its own name.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import numpy as np

from pipeline.translate.base import Context, Value
from pipeline.translate.folding import fold_zero_padding
from pipeline.translate.graph import Walk
from pipeline.translate.helpers import HELPERS

MARKER = "# keras2torch-fallback "  # where a fallback layer's class goes (pipeline/translate/fallback.py)

# state-dict leaves that torch modules (or this package's helpers) hold as buffers already
NATIVE_BUFFERS = frozenset({"running_mean", "running_var", "num_batches_tracked", "mean", "variance"})


@dataclass
class ModelCode:
    """What the translator writes: model.py source, the state dict, and where each weight came from."""

    class_name: str
    source: str
    weights: dict[str, np.ndarray]
    weight_map: dict[str, str]
    buffers: set[str]
    layers: list[dict[str, str]] = field(default_factory=list)  # report rows
    output_keys: list[str] | None = None  # forward() returns a dict with these keys
    attrs: dict[int, str] = field(default_factory=dict)  # id(Keras layer) -> attribute


def class_name(model_name: str) -> str:
    """``seed_cnn`` -> ``SeedCnn``; ``mobilenetv2_1.00_224`` -> ``Mobilenetv2100224``."""
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", model_name) if p]
    name = "".join(p[:1].upper() + p[1:] for p in parts) or "Model"
    return name if name[0].isalpha() else "Model" + name


def assemble(walk: Walk, ctx: Context, doc: str) -> ModelCode:
    """model.py for ``walk``; ``doc`` becomes the module docstring."""
    modules: dict[str, str] = {}
    init: list[str] = []
    frozen: list[str] = []
    body: list[str] = []
    helpers: list[str] = []
    weights: dict[str, np.ndarray] = {}
    weight_map: dict[str, str] = {}
    buffers: set[str] = set()
    rows: list[dict[str, str]] = []
    fold_zero_padding(walk.steps, {v.var for v in walk.outputs})
    for step in walk.steps:
        t = step.translation
        call = step.call
        if call.layer is not None and call.call_index == 0:
            for attr, ctor in t.modules.items():
                modules[attr] = ctor
            init += t.init_lines
            for key, array in t.weights.items():
                weights[key] = np.ascontiguousarray(array)
            weight_map.update(t.weight_map)
            buffers |= t.buffers
            frozen += [k for k in sorted(t.buffers) if k.rsplit(".", 1)[-1] not in NATIVE_BUFFERS]
            rows.append(
                {
                    "layer": str(call.layer.name),
                    "class": call.class_name,
                    "attribute": call.attr,
                    "method": step.method,
                    "reason": step.reason,
                    "channels_first": bool(t.outputs and t.outputs[0].channels_first),
                }
            )
        for name in t.helpers:
            if name not in helpers:
                helpers.append(name)
        for note in t.notes:
            body.append(f"# {call.attr}: {note}")
        body += t.lines
    returned, tail = _returns(walk, ctx)
    body += tail
    args = [v.var for v in walk.inputs]
    body, renamed = rename_chains(body, args, returned)
    returned = [renamed.get(v, v) for v in returned]
    name = class_name(walk.name)
    source = _render(name, doc, modules, init, frozen, body, args, returned, walk.output_keys, helpers)
    return ModelCode(name, source, weights, weight_map, buffers, rows, walk.output_keys, walk.attrs)


def _returns(walk: Walk, ctx: Context) -> tuple[list[str], list[str]]:
    lines: list[str] = []
    names: list[str] = []
    for value in walk.outputs:
        more, moved = _output_layout(value, ctx)
        lines += more
        names.append(moved.var)
    return names, lines


def _output_layout(value: Value, ctx: Context) -> tuple[list[str], Value]:
    if ctx.layout == "channels_first" and value.rank >= 3 and value.dtype.startswith("float"):
        return ctx.channels_first(value)
    return ctx.keras_layout(value)


_WORD = r"(?<![\w.]){}(?!\w)"


CHAIN_NAMES = ("x", "y", "z")


def rename_chains(lines: list[str], args: list[str], keep: list[str]) -> tuple[list[str], dict[str, str]]:
    """Name straight chains of calls ``x`` (``y``, ``z`` while ``x`` is in use), as people write them.

    A value used once is a link of a chain: it takes the chain name of the value it was computed
    from when that one is not used again, else a free chain name. A value used several times (a
    branch point, a shortcut) keeps its layer's name. Forward arguments and returned values
    (``keep``) are never overwritten. Returns the lines and the new name of each renamed value.
    """
    parsed = [_assignment(line) for line in lines]
    defined = {t for t, _ in parsed if t}
    last_use: dict[str, int] = {}
    uses: dict[str, int] = {}
    for i, (_, used) in enumerate(parsed):
        for name in used:
            last_use[name] = i
            uses[name] = uses.get(name, 0) + 1
    for name in keep:
        last_use[name] = len(lines)
        uses[name] = uses.get(name, 0) + 1
    rename: dict[str, str] = {}
    live: set[str] = set(args)
    out: list[str] = []
    for i, (line, (target, used)) in enumerate(zip(lines, parsed, strict=True)):
        mapping = {old: rename[old] for old in used if old in rename}
        if mapping:
            # a name followed by a single "=" is a keyword argument (attention_mask=attention_mask)
            pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, mapping)) + r")(?!\w)(?!\s*=(?!=))")
            code, sep, comment = line.partition("  #")
            line = pattern.sub(lambda m, table=mapping: table[m.group(1)], code) + sep + comment
        dying = [rename.get(u, u) for u in sorted(used) if last_use.get(u) == i]
        live -= set(dying)
        if target is not None and target in defined:
            new_name = target
            if uses.get(target, 0) == 1:
                inherited = [d for d in dying if d in CHAIN_NAMES]
                free = [c for c in CHAIN_NAMES if c not in live]
                new_name = inherited[0] if inherited else (free[0] if free else target)
            if new_name != target:
                rename[target] = new_name
                line = re.sub(r"^" + re.escape(target) + r"(?!\w)", new_name, line)
            live.add(new_name)
        out.append(line)
    return out, rename


def _assignment(line: str) -> tuple[str | None, set[str]]:
    code = line.split("  #", 1)[0].strip()
    if not code or code.startswith("#"):
        return None, set()
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None, set()
    target = None
    stmt = tree.body[0] if tree.body else None
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        target = stmt.targets[0].id
    used = {
        n.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in {"self", "torch", "F", "nn"}
    }
    if isinstance(stmt, ast.Assign) and not isinstance(stmt.targets[0], ast.Name):  # tuple targets
        target = None
    return target, used


def _render(
    name: str,
    doc: str,
    modules: dict[str, str],
    init: list[str],
    frozen: list[str],
    body: list[str],
    args: list[str],
    returned: list[str],
    keys: list[str] | None,
    helpers: list[str],
) -> str:
    out = [f'"""{doc}"""', "", "from pathlib import Path", "", "import torch", "import torch.nn.functional as F"]
    out += ["from safetensors.torch import load_file", "from torch import nn", ""]
    for helper in helpers:
        if helper.startswith("fallback:"):
            out += ["", MARKER + helper.split(":", 1)[1], ""]
        else:
            out += ["", HELPERS[helper].strip(), ""]
    out += ["", f"class {name}(nn.Module):", "    def __init__(self):", "        super().__init__()"]
    out += [f"        self.{attr} = {ctor}" for attr, ctor in modules.items()]
    out += [f"        self.{key}.requires_grad_(False)  # not trainable in Keras" for key in frozen]
    out += ["        self.reset_parameters()", ""]
    out += ["    def reset_parameters(self):", '        """Initialise every weight as Keras does."""']
    out += [f"        {line}" for line in init] or ["        pass"]
    out += ["", f"    def forward(self, {', '.join(args)}):"]
    out += [f"        {line}" for line in body]
    if keys is not None:
        items = ", ".join(f"{k!r}: {v}" for k, v in zip(keys, returned, strict=True))
        out.append(f"        return {{{items}}}")
    elif len(returned) == 1:
        out.append(f"        return {returned[0]}")
    else:
        out.append(f"        return {', '.join(returned)}")
    out += ["", ""]
    out += [
        "def load(path=None):",
        f'    """A {name} with the weights of model.safetensors (beside this file by default), in eval mode."""',
        '    path = Path(path) if path is not None else Path(__file__).with_name("model.safetensors")',
        f"    model = {name}()",
        "    model.load_state_dict(load_file(str(path)))",
        "    return model.eval()",
        "",
    ]
    return "\n".join(out)
