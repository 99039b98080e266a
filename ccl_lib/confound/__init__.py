"""Where does CCL's privacy come from?  The scale-factor confound and Theorem 6.1's premise.

App. E.1 of Liu et al. (ICML 2024) multiplies the CCL loss by a scale factor
(0.01 on CIFAR-10, 0.05 on CIFAR-100) while the undefended baseline trains
plain cross-entropy.  With SGD, momentum ``mu`` and (coupled) weight decay
``lambda``, the update of ``beta * L`` at learning rate ``eta``::

    d = beta * grad L + lambda * w = beta * (grad L + (lambda / beta) * w)
    v <- mu * v + d,   w <- w - eta * v

is, step by step, the update of ``L`` at learning rate ``eta * beta`` and
weight decay ``lambda / beta`` (the momentum buffer is ``beta`` times the
other one).  So the paper's CIFAR-10 CCL models train at an effective
``(lr 0.001, wd 0.05)`` against a baseline at ``(lr 0.1, wd 5e-4)``.  This
package (chapter 11) separates the two effects, comparing only models that train:

* :func:`scale_identity_check` -- trains both sides of the identity with the
  library's own trainer and returns the largest parameter difference.
* :func:`arms` / :func:`arm_specs` -- the arms of the experiment: CE; CE x beta;
  CE at (lr * beta, wd / beta); CCEL and CCQL at scale 1 and at beta.
* :func:`arm_summary` -- per arm, means over seeds with 95 % t-intervals.
* :func:`compare_at_equal_accuracy` -- CCL against CE trained with the
  equivalent learning rate and weight decay, with intervals over seeds, and a
  verdict only when accuracy is matched (or CCL dominates).
* :func:`variance_premise` -- Theorem 6.1's premise across every run of a
  sweep: the rank correlation (Spearman) of the training-loss variance (or
  variance / mean) with the attacker's advantage, with a bootstrap interval.
* :func:`trains` / :func:`training_status` / :func:`training_table` / :func:`training_curves` -- which
  arms trained (final train accuracy >= :data:`TRAIN_ACC_MIN`, or within :data:`CE_GAP_MAX` of CE's;
  the rule is :func:`ccl_lib.verdicts.trains`, re-exported here)
  and their measured curves; a comparison with an arm that did not train is :data:`NOT_TESTABLE`.
  :func:`objective_check` -- whether the objective a scaled recipe descends fits at all (no normalization
  layer: no length of training helps when it does not).
* :func:`comparisons` / :func:`trained_premise` / :func:`privacy_source_findings` /
  :func:`privacy_source_scorecard_rows` -- the chapter's comparisons, premise, findings and scorecard rows.
* :func:`long_recipe_pairs` / :func:`recorded_pairs` / :func:`setting_analysis` /
  :func:`long_recipe_setting` / :func:`long_recipe_view` / :func:`long_recipe_findings` -- the same
  for one more setting on its own (the long CPU image recipe, meant to let the scaled loss train);
  :func:`sgd_steps` / :func:`steps_text` -- a recipe's length in SGD steps, the measure a scaled loss
  needs.

Modules: :mod:`~ccl_lib.confound.arms`, :mod:`~ccl_lib.confound.design`, :mod:`~ccl_lib.confound.compare`,
:mod:`~ccl_lib.confound.identity`, :mod:`~ccl_lib.confound.training`,
:mod:`~ccl_lib.confound.findings`, :mod:`~ccl_lib.confound.setting`, :mod:`~ccl_lib.confound.plot`;
every name is imported from ``ccl_lib.confound``.
"""

from __future__ import annotations

from ..verdicts import CE_GAP_MAX, TRAIN_ACC_MIN, trains
from .arms import ARM_NAMES, Arm, arm_frame, arm_specs, arm_summary, arms, headline_frame
from .compare import compare_at_equal_accuracy, describe_comparison, format_points, variance_premise
from .design import (
    DESIGNS,
    IMAGE_ARMS_CI,
    chapter_pairs,
    design_betas,
    image_recipe,
    recipe_text,
    sgd_steps,
    steps_text,
)
from .findings import (
    COMPARISONS,
    NOT_TESTABLE,
    comparison_frame,
    comparisons,
    excluded_reason,
    premise_frame,
    privacy_source_findings,
    privacy_source_scorecard_rows,
    trained_premise,
)
from .identity import scale_identity_check
from .plot import plot_arms, plot_training_curves
from .setting import (
    long_recipe_findings,
    long_recipe_pairs,
    long_recipe_setting,
    long_recipe_view,
    recorded_pairs,
    setting_analysis,
)
from .training import objective_check, scale_warning_message, training_curves, training_status, training_table

__all__ = [
    "ARM_NAMES",
    "CE_GAP_MAX",
    "COMPARISONS",
    "DESIGNS",
    "IMAGE_ARMS_CI",
    "NOT_TESTABLE",
    "TRAIN_ACC_MIN",
    "Arm",
    "arm_frame",
    "arm_specs",
    "arm_summary",
    "arms",
    "chapter_pairs",
    "compare_at_equal_accuracy",
    "comparison_frame",
    "comparisons",
    "describe_comparison",
    "design_betas",
    "excluded_reason",
    "format_points",
    "headline_frame",
    "image_recipe",
    "long_recipe_findings",
    "long_recipe_pairs",
    "long_recipe_setting",
    "long_recipe_view",
    "plot_arms",
    "premise_frame",
    "plot_training_curves",
    "privacy_source_findings",
    "privacy_source_scorecard_rows",
    "recipe_text",
    "sgd_steps",
    "steps_text",
    "recorded_pairs",
    "scale_identity_check",
    "objective_check",
    "scale_warning_message",
    "setting_analysis",
    "trained_premise",
    "training_curves",
    "training_status",
    "training_table",
    "trains",
    "variance_premise",
]
