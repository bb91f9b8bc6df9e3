"""Fine-tune a converted model in a plain PyTorch loop beside Keras's ``fit`` on the same data.

``make train-demo [OUT=<dir>] [STEPS=<n>]``: builds the seed CNN, compiles it (Adam, categorical
cross-entropy, an L2 regulariser), converts it (model.py with ``make_optimizer`` and
``training_loss``), then trains the same weights on the same seeded batches twice: Keras ``fit``
(one epoch, no shuffling) in a TensorFlow process and the loop below in a torch process, and prints
both loss curves side by side. The torch process imports only torch, numpy and the model.py file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH = 16


def dataset(steps: int, classes: int = 10) -> tuple[object, object]:
    """Seeded images whose class is the brightest of ten fixed patterns (learnable in a few steps)."""
    import numpy as np

    rng = np.random.default_rng(0)
    patterns = rng.standard_normal((classes, 64, 64, 3)).astype(np.float32)
    labels = rng.integers(0, classes, steps * BATCH)
    images = 0.5 * rng.standard_normal((steps * BATCH, 64, 64, 3)).astype(np.float32) + patterns[labels]
    return images, np.eye(classes, dtype=np.float32)[labels]


def keras_side(out: Path, steps: int) -> None:
    import keras
    import numpy as np

    sys.path.insert(0, str(ROOT))
    import pipeline
    from pipeline.examples import seed_cnn

    model = seed_cnn(keras, kernel_regularizer=keras.regularizers.L2(1e-4))  # L2 on the classifier
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    result = pipeline.convert(model, out / "converted", {"edge_inputs": False})
    training = result.report.get("training") or {}
    print(f"conversion: {result.status}; training check: {'passed' if training.get('passed') else training}")
    images, targets = dataset(steps)
    np.savez(out / "data.npz", images=images, targets=targets)
    means: list[float] = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            means.append(float((logs or {})["loss"]))  # the epoch's running mean so far

    model.fit(images, targets, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[Record()])
    losses = [means[0]] + [(k + 1) * means[k] - k * means[k - 1] for k in range(1, len(means))]
    (out / "keras_losses.json").write_text(json.dumps(losses), encoding="utf-8")


def torch_side(out: Path) -> None:
    import importlib.util

    import numpy as np
    import torch

    spec = importlib.util.spec_from_file_location("converted_model", out / "converted" / "model.py")
    assert spec is not None and spec.loader is not None
    model_py = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model_py)

    # ---- the plain PyTorch loop a user writes ----
    module = model_py.load()
    module.train()
    optimizer = model_py.make_optimizer(module)
    data = np.load(out / "data.npz")
    images, targets = torch.from_numpy(data["images"]), torch.from_numpy(data["targets"])
    losses = []
    for start in range(0, len(images), BATCH):
        x, y = images[start : start + BATCH], targets[start : start + BATCH]
        loss = model_py.training_loss(module, module(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    (out / "torch_losses.json").write_text(json.dumps(losses), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/train_demo")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--side", choices=("keras", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = Path(args.out)
    if args.side == "keras":
        keras_side(out, args.steps)
        return 0
    if args.side == "torch":
        torch_side(out)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    for side in ("keras", "torch"):  # TensorFlow and torch each in their own process
        cmd = [sys.executable, __file__, "--side", side, "--out", str(out), "--steps", str(args.steps)]
        subprocess.run(cmd, check=True, env=env)
    keras_losses = json.loads((out / "keras_losses.json").read_text(encoding="utf-8"))
    torch_losses = json.loads((out / "torch_losses.json").read_text(encoding="utf-8"))
    print(f"\n{'step':>4}  {'Keras fit':>10}  {'PyTorch loop':>12}  {'difference':>10}")
    for step, (a, b) in enumerate(zip(keras_losses, torch_losses, strict=True), start=1):
        print(f"{step:>4}  {a:>10.5f}  {b:>12.5f}  {b - a:>10.2e}")
    worst = max(abs(a - b) for a, b in zip(keras_losses, torch_losses, strict=True))
    print(
        f"\nloss {keras_losses[0]:.4f} -> {keras_losses[-1]:.4f} (Keras) and {torch_losses[0]:.4f} -> "
        f"{torch_losses[-1]:.4f} (PyTorch); largest difference {worst:.2e}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
