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
"""

from .advreg import AdvReg, InferenceModel
from .base import Defense, Param, soft_cross_entropy
from .ccl import CCEL, CCL, CCQL, Focal, FocalCCL, Vanilla
from .mixup_mmd import MixupMMD, gaussian_kernel, median_bandwidth, mixup, mmd2
from .registry import (
    DEFENSE_NAMES,
    REFERENCE_DEFENSES,
    default_scale,
    defense_class,
    defense_from_description,
    get_defense,
    n_parts_for,
    paper_grid,
    register_defense,
)
from .regularizers import (
    PAPER_EARLY_STOPPING_EPOCHS,
    ConfidencePenalty,
    Dropout,
    EarlyStopping,
    LabelSmoothing,
    entropy,
    rescale_epochs,
    smoothed_targets,
)
from .relaxloss import RelaxLoss, flattened_targets, is_ascent_epoch

__all__ = [
    "AdvReg",
    "CCEL",
    "CCL",
    "CCQL",
    "ConfidencePenalty",
    "DEFENSE_NAMES",
    "Defense",
    "Dropout",
    "EarlyStopping",
    "Focal",
    "FocalCCL",
    "InferenceModel",
    "LabelSmoothing",
    "MixupMMD",
    "PAPER_EARLY_STOPPING_EPOCHS",
    "Param",
    "REFERENCE_DEFENSES",
    "RelaxLoss",
    "Vanilla",
    "default_scale",
    "defense_class",
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
    "register_defense",
    "rescale_epochs",
    "smoothed_targets",
    "soft_cross_entropy",
]
