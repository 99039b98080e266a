"""Defenses against membership inference, as training strategies (Sec. 5.1, App. D, App. E).

Every defense is a :class:`Defense` -- a :class:`ccl_lib.train.Objective` the
trainer minimizes, plus ``model_kwargs``, ``checkpoint_epochs``,
``needs_reference`` and ``describe()`` -- chosen by name and hyperparameters::

    d = get_defense("ccl", alpha=0.5, concave="quadratic")
    result = d.train(model, x, y, config=TrainConfig(epochs=30))

==================== ==================================================== ==================
name                 what                                                 source
==================== ==================================================== ==================
vanilla              cross-entropy                                        Sec. 5.1
ccl, ccel, ccql      Convex-Concave Loss (Eq. 4-6)                        Sec. 4, App. E.1
focal, focal_ccl     focal loss, focal loss + concave term                App. D
relaxloss            RelaxLoss (Chen et al., 2022)                        App. E.2
mixup_mmd            mixup + MMD penalty (Li et al., 2021)                App. E.2
advreg               adversarial regularization (Nasr et al., 2018)       App. E.2
dropout              dropout before the last fully connected layer        App. E.2
label_smoothing      label smoothing (Szegedy et al., 2016)               App. E.2
confidence_penalty   entropy regularization (Pereyra et al., 2017)        App. E.2
early_stopping       checkpoints at given epochs (Yao et al., 2007)       App. E.2
dp_sgd               DP-SGD (Abadi et al., 2016), ccl_lib.defenses.dp_sgd  --
==================== ==================================================== ==================

Code variants (issue 23): ``relaxloss``, ``advreg``, ``dropout`` and ``mixup_mmd`` take a
``variant=`` hyperparameter naming the code base they follow instead of the paper's text
(``RELAXLOSS_VARIANTS``, ``ADVREG_VARIANTS``, ``DROPOUT_VARIANTS``, ``MIXUP_MMD_VARIANTS``;
each entry names the repository, path and function); ``default_scale(dataset, "release")``
is the CCL release's scale factor.  :meth:`Defense.check_data` refuses a variant on data it
does not apply to.
"""

from .advreg import ADVREG_VARIANTS, AdvReg, ForkInferenceModel, InferenceModel, pm1_code
from .base import Defense, Param, data_kind, soft_cross_entropy, variant_param
from .ccl import CCEL, CCL, CCQL, Focal, FocalCCL, Vanilla
from .mixup_mmd import MIXUP_MMD_VARIANTS, MixupMMD, gaussian_kernel, median_bandwidth, mixup, mmd2
from .registry import (
    DEFENSE_NAMES,
    REFERENCE_DEFENSES,
    SCALE_VARIANTS,
    default_scale,
    defense_class,
    defense_from_description,
    get_defense,
    n_parts_for,
    paper_grid,
    register_defense,
)
from .regularizers import (
    DROPOUT_VARIANTS,
    PAPER_EARLY_STOPPING_EPOCHS,
    ConfidencePenalty,
    Dropout,
    EarlyStopping,
    LabelSmoothing,
    entropy,
    rescale_epochs,
    smoothed_targets,
)
from .relaxloss import RELAXLOSS_VARIANTS, RelaxLoss, flattened_targets, is_ascent_epoch, release_soft_targets

__all__ = [
    "ADVREG_VARIANTS",
    "AdvReg",
    "CCEL",
    "CCL",
    "CCQL",
    "ConfidencePenalty",
    "DEFENSE_NAMES",
    "DROPOUT_VARIANTS",
    "Defense",
    "Dropout",
    "EarlyStopping",
    "Focal",
    "FocalCCL",
    "ForkInferenceModel",
    "InferenceModel",
    "LabelSmoothing",
    "MIXUP_MMD_VARIANTS",
    "MixupMMD",
    "PAPER_EARLY_STOPPING_EPOCHS",
    "Param",
    "REFERENCE_DEFENSES",
    "RELAXLOSS_VARIANTS",
    "RelaxLoss",
    "SCALE_VARIANTS",
    "Vanilla",
    "default_scale",
    "defense_class",
    "data_kind",
    "defense_from_description",
    "entropy",
    "flattened_targets",
    "gaussian_kernel",
    "get_defense",
    "is_ascent_epoch",
    "median_bandwidth",
    "mixup",
    "mmd2",
    "n_parts_for",
    "paper_grid",
    "pm1_code",
    "register_defense",
    "release_soft_targets",
    "rescale_epochs",
    "smoothed_targets",
    "soft_cross_entropy",
    "variant_param",
]
