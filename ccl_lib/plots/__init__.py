"""Figures of experiment results (Liu et al., ICML 2024, Fig. 1-6 and Table 1), as matplotlib Figures.

One function per paper figure.  Each takes either a summary (one row per plotted point, with the
interval ends ``<column>_low`` / ``<column>_high``, e.g. of :func:`ccl_lib.verdicts.seed_interval`)
or the per-seed frame of :func:`ccl_lib.experiments.run_grid` (or run histories / attack
results), and draws 95 % seed intervals exactly when its data has them (interval columns, or
more than one seed); with one seed and no interval columns it draws plain points and lines.
Nothing is shown or saved: the notebooks decide.

* :func:`privacy_utility` -- Fig. 2/3: one panel per attack, test accuracy (x) against attack
  advantage (y), one curve per defense over its hyperparameter grid, dotted lines through the
  undefended (vanilla) model (:mod:`ccl_lib.plots.privacy_utility`).
* :func:`alpha_ablation` -- Fig. 4: test accuracy, highest advantage and training-loss variance
  against alpha for CCEL and CCQL (:mod:`ccl_lib.plots.ablation`).
* :func:`training_curves` -- Fig. 1/5: per-epoch means with 95 % bands, one line style and marker
  per loss (:mod:`ccl_lib.plots.curves`).
* :func:`attack_bars` -- App. D, Fig. 6: per-attack bars with 95 % intervals.
* :func:`roc_curves` -- ROC curves of attacks (log-log by default, Carlini et al., 2022).
* :func:`strong_roc_panels` -- chapter 10's log-log ROC curves, one panel per (data set, attack).
* :func:`tpr_intervals` -- chapter 10's TPR at low FPR with bootstrap intervals
  (these three: :mod:`ccl_lib.plots.attacks`).
* :func:`p1_bars` -- Table 1 beside the paper's values (:mod:`ccl_lib.plots.p1`).

The book's style (column width, resolution, fonts, display names, legends) is
:mod:`ccl_lib.plots.style`; the frames the figures read, :mod:`ccl_lib.plots.frames`.
"""

from __future__ import annotations

from .ablation import alpha_ablation
from .attacks import attack_bars, roc_curves, strong_roc_panels, tpr_intervals
from .curves import training_curves
from .p1 import p1_bars
from .privacy_utility import privacy_utility
from .style import ATTACK_LABELS, BOOK_DPI, BOOK_WIDTH, DEFENSE_LABELS, book_figsize, use_book_style

__all__ = ["BOOK_DPI", "BOOK_WIDTH", "book_figsize", "use_book_style", "DEFENSE_LABELS", "ATTACK_LABELS",
           "privacy_utility", "alpha_ablation", "training_curves", "attack_bars", "roc_curves", "strong_roc_panels",
           "tpr_intervals", "p1_bars"]  # fmt: skip
