"""Membership inference attacks of the paper's evaluation (Sec. 5.1), one suite, one table.

Three classes of black-box attack, each learned on a shadow model and scored
on the target model's members (train split) and non-members (test split):

* NN-based (Shokri et al., 2017; Salem et al., 2019): ``nn``, ``nn_sorted``
  -- :mod:`ccl_lib.attacks.nn`;
* metric-based (Yeom et al., 2018; Salem et al., 2019; Song & Mittal, 2021):
  ``correctness``, ``loss``, ``confidence`` (true-class probability; and
  ``confidence_max``), ``entropy``, ``modified_entropy`` with class-dependent
  thresholds -- :mod:`ccl_lib.attacks.metric`, :mod:`ccl_lib.attacks.threshold`;
* augmentation-based (Choquette-Choo et al., 2021): ``rotation``,
  ``translation`` (images only) -- :mod:`ccl_lib.attacks.augmentation`.

Quick use::

    from ccl_lib.attacks import run_attacks, p1_from_report
    report = run_attacks(target, shadow, target_in=(x_tr, y_tr), target_out=(x_te, y_te),
                         shadow_in=(xs_tr, ys_tr), shadow_out=(xs_te, ys_te), kind="tabular")
    p1 = p1_from_report(report, test_accuracy=0.62)

Extending: write ``fn(ctx: AttackContext, **options) -> AttackResult`` in a
new module of this package and decorate it with ``@register_attack("name")``;
every module of the package is imported here, so the attack is then
available to :func:`run_attacks` by name.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import (
    ATTACKS,
    DATA_KINDS,
    SUMMARY_KEYS,
    AttackContext,
    AttackFn,
    AttackResult,
    balanced_indices,
    query_logits,
    register_attack,
)
from .threshold import ThresholdChoice, apply_thresholds, best_threshold, class_thresholds, threshold_at_fpr
from .metric import CONFIDENCES, METRICS, gaussian_loss_advantage, metric_attack, metric_scores
from .nn import NN_INPUTS, AttackClassifier, ClassifierConfig, classifier_attack, nn_attack, nn_features, train_attack_classifier
from .augmentation import (
    AUG_FEATURES,
    augmentation_attack,
    augmentation_features,
    rotate_transform,
    rotation_angles,
    translate_transform,
    translation_shifts,
)
from .suite import (
    ATTACK_NAMES,
    IMAGE_ATTACKS,
    REPORT_COLUMNS,
    TABULAR_ATTACKS,
    default_attacks,
    p1_from_report,
    results_frame,
    run_attacks,
)

# Register attacks of any further module of this package (e.g. lira.py, rmia.py).
for _m in pkgutil.iter_modules(__path__):
    if not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")
del _m

__all__ = [
    "ATTACKS",
    "ATTACK_NAMES",
    "AUG_FEATURES",
    "AttackClassifier",
    "AttackContext",
    "AttackFn",
    "AttackResult",
    "CONFIDENCES",
    "ClassifierConfig",
    "DATA_KINDS",
    "IMAGE_ATTACKS",
    "METRICS",
    "NN_INPUTS",
    "REPORT_COLUMNS",
    "SUMMARY_KEYS",
    "TABULAR_ATTACKS",
    "ThresholdChoice",
    "apply_thresholds",
    "augmentation_attack",
    "augmentation_features",
    "balanced_indices",
    "best_threshold",
    "class_thresholds",
    "classifier_attack",
    "default_attacks",
    "gaussian_loss_advantage",
    "metric_attack",
    "metric_scores",
    "nn_attack",
    "nn_features",
    "p1_from_report",
    "query_logits",
    "register_attack",
    "results_frame",
    "rotate_transform",
    "rotation_angles",
    "run_attacks",
    "threshold_at_fpr",
    "train_attack_classifier",
    "translate_transform",
    "translation_shifts",
]
