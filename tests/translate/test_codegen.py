"""model.py reads like the hand-written class of the articles (seeds/004): one nn.Module named
after the model, one attribute per Keras layer, Keras's initialisers, a forward() as a person
writes it, imports of torch, safetensors and the standard library only."""

from __future__ import annotations

import ast
import sys

import keras
import numpy as np
import torch

from pipeline.translate.codegen import class_name, rename_chains
from pipeline.translate.init import init_lines
from tests.models import seed_cnn_keras
from tests.translate.helpers import check, module_from


def test_seed_cnn_reads_like_the_hand_written_class(rng: np.random.Generator) -> None:
    result = check(seed_cnn_keras(), rng, randomize=False)
    source = result.code.source
    expected = [
        "class SeedCnn(nn.Module):",
        "        self.conv1 = nn.Conv2d(3, 32, kernel_size=(3, 3))",
        "        self.pool1 = nn.MaxPool2d(kernel_size=(2, 2))",
        "        self.conv2 = nn.Conv2d(32, 64, kernel_size=(3, 3))",
        "        self.pool2 = nn.MaxPool2d(kernel_size=(2, 2))",
        "        self.predictions = nn.Linear(12544, 10)",
        "        nn.init.xavier_uniform_(self.conv1.weight)",
        "        nn.init.zeros_(self.conv1.bias)",
        "    def forward(self, image):",
        "        x = image.permute(0, 3, 1, 2)  # channels-last (Keras) to channels-first (torch)",
        "        x = F.relu(self.conv1(x))",
        "        x = self.pool1(x)",
        "        x = F.relu(self.conv2(x))",
        "        x = self.pool2(x)",
        "        x = x.flatten(1)",
        "        x = torch.softmax(self.predictions(x), dim=1)",
        "        return x",
        "def load(path=None):",
    ]
    lines = source.splitlines()
    for line in expected:
        assert line in lines, f"missing {line!r} in\n{source}"
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= {"torch", "safetensors"} | set(sys.stdlib_module_names)


def test_reset_parameters_reinitialises_like_keras(rng: np.random.Generator) -> None:
    result = check(seed_cnn_keras(), rng, randomize=False)
    module = module_from(result.code)
    torch.manual_seed(0)
    module.reset_parameters()
    assert torch.count_nonzero(module.conv1.bias) == 0
    limit = (6 / (3 * 3 * 3 + 3 * 3 * 32)) ** 0.5  # glorot_uniform of a (3, 3, 3, 32) kernel
    assert module.conv1.weight.abs().max() <= limit
    assert module.conv1.weight.abs().max() > 0.9 * limit


def test_depthwise_kernels_spell_out_keras_fans() -> None:
    init = keras.initializers.GlorotUniform()
    line = init_lines(init, "self.dw.weight", (3, 3, 8, 1), (8, 1, 3, 3))[0]
    limit = (6 / (9 * 8 + 9 * 1)) ** 0.5
    assert line.startswith("nn.init.uniform_(self.dw.weight, ") and f"{limit:.6g}" in line
    assert init_lines(keras.initializers.HeNormal(), "w", (4, 5), (5, 4))[0].startswith("nn.init.trunc_normal_(w")


def test_chains_share_a_name_and_branch_points_keep_theirs() -> None:
    lines = [
        "a = self.conv(image)",
        "b = self.bn(a)",
        "c = self.left(b)",
        "d = self.right(b)",
        "e = c + d",
    ]
    out, renamed = rename_chains(lines, ["image"], ["e"])
    assert out == ["x = self.conv(image)", "b = self.bn(x)", "x = self.left(b)", "y = self.right(b)", "x = x + y"]
    assert renamed["e"] == "x"


def test_class_names() -> None:
    assert class_name("seed_cnn") == "SeedCnn"
    assert class_name("mobilenetv2_1.00_224") == "Mobilenetv2100224"
    assert class_name("3d_net") == "Model3dNet"
