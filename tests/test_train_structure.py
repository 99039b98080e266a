"""The trainer's structure (issue 21): no concrete defense inside ``ccl_lib.train``; defenses say if they stack.

``ccl_lib.defenses`` builds on ``ccl_lib.train`` (a defense *is* an objective), so the trainer
must not import it back: :func:`ccl_lib.train.fit_many` asks ``Objective.stackable``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ccl_lib.train as train
from ccl_lib.defenses import DEFENSE_NAMES, defense_class, get_defense
from ccl_lib.train import LossObjective, Objective, TrainConfig, fit_many

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "ccl_lib" / "train"


def _imports(path: Path) -> list[str]:
    """Every module an import statement of ``path`` names, relative ones resolved against ccl_lib.train."""
    pkg = ["ccl_lib", "train"]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = pkg[: len(pkg) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            out.append(mod)
            out += [f"{mod}.{a.name}" for a in node.names]  # "from .. import defenses"
    return out


def test_train_imports_no_defense_module():
    files = sorted(TRAIN.glob("*.py"))
    assert {f.name for f in files} >= {"__init__.py", "config.py", "loop.py", "many.py", "inference.py"}
    for f in files:
        bad = [m for m in _imports(f) if m == "ccl_lib.defenses" or m.startswith("ccl_lib.defenses.")]
        assert not bad, f"{f.relative_to(ROOT)} imports {bad}"
    code = "import sys, ccl_lib.train; print(sorted(m for m in sys.modules if m.startswith('ccl_lib.defenses')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_ast_check_sees_a_relative_defense_import(tmp_path):
    """The checker above is not vacuous: it resolves ``from ..defenses`` and ``from .. import defenses``."""
    f = tmp_path / "x.py"
    f.write_text("from ..defenses.ccl import CCL\nfrom .. import defenses\nfrom .config import TrainConfig\n")
    names = _imports(f)
    assert "ccl_lib.defenses.ccl" in names and "ccl_lib.defenses" in names and "ccl_lib.train.config" in names


def test_no_train_module_is_over_600_lines():
    for f in TRAIN.glob("*.py"):
        assert len(f.read_text().splitlines()) <= 600, f.name


def test_every_old_import_path_still_works():
    from ccl_lib.augment import random_crop_flip

    for name in ("LossObjective", "Objective", "TrainConfig", "TrainResult", "accuracy", "FIT_MANY_STRATEGIES",
                 "fit", "fit_many", "predict_logits", "random_crop_flip", "as_index_tensor"):  # fmt: skip
        assert hasattr(train, name), name
    assert train.random_crop_flip is random_crop_flip


#: The defenses fit_many stepped together before issue 21 (a literal of the list the trainer used to import).
STACKED_BEFORE = {"vanilla", "ccl", "ccel", "ccql", "focal_ccl", "focal", "dropout", "label_smoothing",
                  "confidence_penalty"}  # fmt: skip


def test_the_defenses_that_say_they_stack_are_the_ones_that_stacked_before():
    assert {n for n in DEFENSE_NAMES if defense_class(n).stackable} == STACKED_BEFORE
    assert Objective.stackable is False and LossObjective.stackable is True


class _Sq(Objective):
    """Mean squared logit of the true class: a pure per-batch loss."""

    name = "sq"

    def loss(self, model, x, y, *, ref=None, epoch=0, step=0):
        z = model(x)
        return (z.gather(1, y[:, None]) ** 2).mean()


class _SqStackable(_Sq):
    stackable = True


class _SqCheckpoints(_SqStackable):
    checkpoint_epochs = (1,)


def _two():
    g = torch.Generator().manual_seed(0)
    models = [torch.nn.Linear(4, 3) for _ in range(2)]
    data = [(torch.randn(16, 4, generator=g), torch.randint(0, 3, (16,), generator=g)) for _ in range(2)]
    return models, data


def test_fit_many_stacks_exactly_the_objectives_that_say_so():
    cfg = TrainConfig(epochs=1, batch_size=8, device="cpu", track_train_loss=False)
    models, data = _two()
    with pytest.raises(ValueError, match="cannot stack.*'sq' \\(_Sq\\) is not one the stacked path covers"):
        fit_many(models, data, objective=_Sq(), configs=cfg, strategy="stacked", progress=False)
    models, data = _two()
    out = fit_many(models, data, objective=_SqStackable(), configs=cfg, strategy="stacked", progress=False)
    assert [len(r.history) for r in out] == [1, 1]
    # an objective that keeps checkpoints (early stopping's kind) is trained one model at a time, stackable or not
    with pytest.raises(ValueError, match="cannot stack.*_SqCheckpoints"):
        fit_many(*_two(), objective=_SqCheckpoints(), configs=cfg, strategy="stacked", progress=False)
    assert get_defense("early_stopping", epochs=[1]).stackable is False
