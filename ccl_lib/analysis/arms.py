"""The arms of each setting, for the chapters that compare losses epoch by epoch (chapters 4 and 6).

A chapter with two settings (an image experiment and a tabular data set, say) runs every loss in
each; :func:`setting_arms` picks each loss's runs of each setting (one per seed,
:func:`ccl_lib.analysis.runs.select_runs`) and averages their training histories over seeds
(:func:`ccl_lib.analysis.curves.seed_curves`), the curves of Fig. 1 and Fig. 5 of Liu et al. (ICML 2024).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .curves import seed_curves
from .runs import select_runs

__all__ = ["setting_arms"]


def setting_arms(
    runs: Mapping[str, Any],
    settings: Mapping[str, Sequence[Any]],
    arms: Mapping[str, tuple[str, Mapping[str, Any]]],
    columns: Sequence[str],
) -> tuple[dict[str, dict[str, list]], dict[str, dict[str, Any]]]:
    """Per setting, each arm's runs (sorted by seed) and their per-epoch curves over seeds.

    Args:
        runs: ``{key: RunResult}`` of :func:`ccl_lib.analysis.runs.run_runs` (every setting's runs).
        settings: ``{setting name: its RunSpecs}``; a setting's arms are picked among its own runs.
        arms: ``{label: (defense, hyperparameters)}``, e.g. ``{"CE": ("vanilla", {}),
            "Focal": ("focal", {"gamma": 2.0})}`` (:func:`ccl_lib.analysis.runs.select_runs`).
        columns: the history columns averaged (:func:`ccl_lib.analysis.curves.seed_curves`).

    Returns:
        ``({setting: {label: runs}}, {setting: {label: seed_curves frame}})``.
    """
    by_arm: dict[str, dict[str, list]] = {}
    curves: dict[str, dict[str, Any]] = {}
    for name, specs in settings.items():
        missing = [s.key() for s in specs if s.key() not in runs]
        if missing:
            raise ValueError(f"setting {name!r}: {len(missing)} of its runs are not among the runs given")
        mine = {s.key(): runs[s.key()] for s in specs}
        by_arm[name] = {label: select_runs(mine, d, **dict(hp)) for label, (d, hp) in arms.items()}
        curves[name] = {label: seed_curves(rs, columns) for label, rs in by_arm[name].items()}
    return by_arm, curves
