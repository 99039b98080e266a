"""The outcome of one run (:class:`RunResult`) and its rows as a table (:func:`rows_frame`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .spec import RunSpec

#: Columns describing the run, first in every row (then the defense's hyperparameters).
RUN_COLUMNS = ("key", "run_id", "label", "setting", "variant", "dataset", "kind", "model", "defense")
#: Recipe columns after the hyperparameters.
RECIPE_COLUMNS = ("seed", "epochs", "milestones", "lr", "batch_size", "momentum", "weight_decay", "augment", "size")
#: Utility columns of the evaluated target model.
UTILITY_COLUMNS = ("eval_epoch", "test_acc", "train_acc", "train_loss_mean", "train_loss_var", "test_loss_mean")
#: Attack columns (one row per attack), then the P1 columns.
METRIC_COLUMNS = (
    "attack", "paper_attack", "advantage", "advantage_low", "advantage_high",
    "advantage_oracle", "advantage_oracle_low", "advantage_oracle_high", "balanced_accuracy", "auc",
    "tpr@0.1%", "tpr@0.1%_low", "tpr@0.1%_high", "tpr@1%", "tpr@1%_low", "tpr@1%_high", "n_in", "n_out",
    "attack_p1", "max_advantage", "p1",
)  # fmt: skip


@dataclass
class RunResult:
    """The outcome of one run.

    Attributes:
        spec: the run's settings.
        key: ``spec.key()``, the cache folder's name.
        rows: one dict per (evaluated epoch, attack) -- see :meth:`frame`;
            ``label`` names the run, ``setting`` the run without its seed,
            ``variant`` the defense and hyperparameters alone (for legends).
        histories: ``{"target": [...], "shadow": [...]}``, the per-epoch
            history of :func:`ccl_lib.train.fit` (train-loss mean and variance,
            train/test accuracy; Fig. 1, 4c and 5).
        meta: where and how long it ran, split sizes, model shapes.
        cached: loaded from the cache rather than computed now.
    """

    spec: RunSpec
    key: str
    rows: list[dict[str, Any]]
    histories: dict[str, list[dict[str, float]]]
    meta: dict[str, Any] = field(default_factory=dict)
    cached: bool = False

    def frame(self):
        """The rows as a ``pandas.DataFrame`` (one row per evaluated epoch and attack)."""
        return rows_frame(self.rows)

    def history_frame(self, role: str = "target"):
        """The per-epoch training history of the ``"target"`` or ``"shadow"`` model.

        Args:
            role: ``"target"`` (default) or ``"shadow"``.
        """
        import pandas as pd

        if role not in self.histories:
            raise ValueError(f"role must be one of {sorted(self.histories)}, got {role!r}")
        return pd.DataFrame(self.histories[role])

    @property
    def test_acc(self) -> float:
        """Test accuracy of the target at the last evaluated epoch."""
        return float(self.rows[-1]["test_acc"])

    @property
    def p1(self) -> float:
        """P1 (Eq. 13) with the highest advantage, at the last evaluated epoch."""
        return float(self.rows[-1]["p1"])

    @classmethod
    def from_record(cls, record: dict[str, Any], cached: bool = True) -> RunResult:
        return cls(
            spec=RunSpec.from_dict(record["spec"]),
            key=record["key"],
            rows=list(record["rows"]),
            histories=dict(record["histories"]),
            meta=dict(record.get("meta", {})),
            cached=cached,
        )


def rows_frame(rows: list[dict[str, Any]]):
    """A ``DataFrame`` of result rows with a stable column order: run columns, the
    defenses' hyperparameters (alphabetical), recipe, utility, attack metrics.

    Args:
        rows: result rows (dicts), as in :attr:`RunResult.rows` or :attr:`SweepResult.rows`.
    """
    import pandas as pd

    df = pd.DataFrame(rows)
    fixed = [*RUN_COLUMNS, *RECIPE_COLUMNS, *UTILITY_COLUMNS, *METRIC_COLUMNS]
    known = set(fixed)
    hp = sorted(c for c in df.columns if c not in known)
    head = [c for c in RUN_COLUMNS if c in df.columns]
    tail = [c for c in fixed[len(RUN_COLUMNS) :] if c in df.columns]
    return df[head + hp + tail]
