"""Membership inference attacks of the paper's evaluation (Sec. 5.1), one suite, one table.

Three classes of black-box attack, each learned on a shadow model and scored
on the target model's members (train split) and non-members (test split):

* NN-based (Shokri et al., 2017; Salem et al., 2019): ``nn``, ``nn_sorted``
  -- :mod:`ccl_lib.attacks.nn`;
* metric-based (Yeom et al., 2018; Salem et al., 2019; Song & Mittal, 2021):
  ``correctness``, ``loss``, ``confidence`` (maximum probability),
  ``entropy``, ``modified_entropy`` with class-dependent thresholds
  (``confidence_true``, the true-class probability, is available but not in
  the default suite) -- :mod:`ccl_lib.attacks.metric`, :mod:`ccl_lib.attacks.threshold`;
* augmentation-based (Choquette-Choo et al., 2021): ``rotation``,
  ``translation`` (images only) -- :mod:`ccl_lib.attacks.augmentation`;
* beside the paper's eight (:data:`PAPER_ATTACKS`; never folded into P1 unless
  asked): ``nn_sorted``, and LiRA/RMIA with reference models trained like the
  target (:mod:`ccl_lib.attacks.reference`, :mod:`ccl_lib.attacks.strong`);
* the CCL release's forms (:data:`RELEASE_ATTACKS`, issue 23): ``nn_release``,
  ``loss_release``, ``confidence_release``, ``entropy_release``,
  ``modified_entropy_release``, ``rotation_release`` (images), and ``lira_reference`` (the
  LiRA authors' estimator, with their mirror queries on images).

Every report row has the headline ``advantage`` -- TPR - FPR on the target of
the rule the attacker learned on the shadow model (Eq. 2, footnote 2) -- and
``advantage_oracle``, the best threshold chosen on the target (an upper bound).

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

from .augmentation import (
    AUG_FEATURES,
    augmentation_attack,
    augmentation_features,
    rotate_transform,
    rotation_angles,
    translate_transform,
    translation_shifts,
)
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
from .lira import LIRA_ESTIMATORS, fit_gaussians_reference, lira_reference_attack
from .metric import (
    CONFIDENCES,
    METRICS,
    RELEASE_METRICS,
    gaussian_loss_advantage,
    metric_attack,
    metric_scores,
    release_metric_attack,
    release_metric_scores,
)
from .nn import (
    NN_INPUTS,
    AttackClassifier,
    ClassifierConfig,
    classifier_attack,
    nn_attack,
    nn_features,
    release_nn_attack,
    train_attack_classifier,
)
from .reference import (
    ATTACKERS,
    AttackPool,
    ReferenceModels,
    attack_pool,
    context_references,
    pool_membership,
    sample_membership,
    train_reference_models,
)
from .strong import (
    StrongAttackRun,
    findings_strong_attacks,
    format_strong_attack_table,
    run_strong_attacks,
    strong_attack_table,
    strong_attacks,
    strongest_attacks,
)
from .suite import (
    ATTACK_NAMES,
    EXTRA_ATTACKS,
    IMAGE_ATTACKS,
    MIN_SET_SIZE,
    P1_VARIANTS,
    PAPER_ATTACKS,
    RELEASE_ATTACKS,
    REPORT_COLUMNS,
    TABULAR_ATTACKS,
    default_attacks,
    is_paper_attack,
    p1_from_report,
    results_frame,
    run_attacks,
)
from .threshold import (
    ThresholdChoice,
    apply_thresholds,
    best_threshold,
    class_thresholds,
    release_class_thresholds,
    release_threshold,
    threshold_at_fpr,
)

# Register attacks of any further module of this package.
for _m in pkgutil.iter_modules(__path__):
    if not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")
del _m

__all__ = [
    "ATTACKERS",
    "ATTACKS",
    "ATTACK_NAMES",
    "AttackPool",
    "EXTRA_ATTACKS",
    "LIRA_ESTIMATORS",
    "MIN_SET_SIZE",
    "P1_VARIANTS",
    "PAPER_ATTACKS",
    "RELEASE_ATTACKS",
    "RELEASE_METRICS",
    "ReferenceModels",
    "StrongAttackRun",
    "attack_pool",
    "context_references",
    "findings_strong_attacks",
    "fit_gaussians_reference",
    "format_strong_attack_table",
    "is_paper_attack",
    "lira_reference_attack",
    "pool_membership",
    "run_strong_attacks",
    "sample_membership",
    "strong_attack_table",
    "strong_attacks",
    "strongest_attacks",
    "train_reference_models",
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
    "release_class_thresholds",
    "release_metric_attack",
    "release_metric_scores",
    "release_nn_attack",
    "release_threshold",
    "results_frame",
    "rotate_transform",
    "rotation_angles",
    "run_attacks",
    "threshold_at_fpr",
    "train_attack_classifier",
    "translate_transform",
    "translation_shifts",
]
