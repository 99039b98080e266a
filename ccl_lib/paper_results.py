"""The published numbers of Liu et al. (ICML 2024) as data, for side-by-side comparisons.

Everything here is transcribed from the paper "Mitigating Privacy Risk in
Membership Inference by Convex-Concave Loss" (Liu, Feng, Zhuang, Cao, Wei;
ICML 2024); each constant names the table, section or appendix it comes from.
Nothing here is computed or measured by this library: these are the values a
rerun is compared against (book chapter 8, Table 1, and chapter 7's quote of
the CIFAR-10 loss-attack advantage).

* :data:`TABLE1_P1` -- Table 1 (Sec. 5.2): the P1 score (Eq. 13) of CCQL, CCEL
  and the undefended model ("w/o") per data set, with ``alpha = 0.5`` and the
  *highest* advantage over all attacks.
* :data:`LOSS_ATTACK_CIFAR10` -- Sec. 1 and Sec. 5.2: on CIFAR-10 (ResNet-34),
  CCQL lowers the loss-metric attack advantage from 29.67 % (Dropout, the
  strongest baseline among models at least as accurate as the vanilla one)
  to 18.40 %.
* :data:`TRAINING_RECIPES` -- Sec. 5.1 "Training details": model, epochs and
  learning-rate milestones per data set.
* :data:`APPENDIX_D` -- App. D: the setting of Fig. 6 (focal loss with a concave term).

The hyperparameter grids of App. E and the CCL scale factors are not repeated
here: they are :func:`ccl_lib.defenses.paper_grid` and
:func:`ccl_lib.defenses.default_scale`.

A note on Sec. 1's "relative reduction of 62.01 % in privacy risk": 18.40 /
29.67 = 0.62016, so 62.01 % is the *ratio* of the two advantages (truncated); the relative
reduction is 1 - 18.40 / 29.67 = 37.99 % (:func:`relative_reduction`).  The
paper's wording is kept in :data:`LOSS_ATTACK_CIFAR10` and the arithmetic is
exposed so that the book can say both.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Mapping, Optional

__all__ = [
    "APPENDIX_D",
    "DATASET_NAMES",
    "LOSS_ATTACK_CIFAR10",
    "METHODS",
    "PAPER_DATASETS",
    "TABLE1_P1",
    "P1_DEFINITIONS",
    "TRAINING_RECIPES",
    "max_p1",
    "p1_consistency",
    "paper_dataset_name",
    "required_complement",
    "relative_reduction",
    "table1",
    "table1_p1",
]

#: The three rows of Table 1: the two CCL variants and the undefended model.
METHODS: tuple[str, ...] = ("CCQL", "CCEL", "w/o")

#: The five columns of Table 1, in the paper's order.
PAPER_DATASETS: tuple[str, ...] = ("Texas", "Purchase", "ImageNet", "CIFAR-10", "CIFAR-100")

#: Paper column name -> ``ccl_lib.data.load_dataset`` name.
DATASET_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "Texas": "texas100",
        "Purchase": "purchase100",
        "ImageNet": "imagenet",
        "CIFAR-10": "cifar10",
        "CIFAR-100": "cifar100",
    }
)

#: Table 1 (Sec. 5.2): P1 score (Eq. 13) per method and data set; ``alpha = 0.5``,
#: P1 computed with the highest attack advantage over all attacks.  CIFAR-10 and
#: CIFAR-100 use ResNet-34 and DenseNet-121 respectively (Figs. 2-3), ImageNet a
#: DenseNet-121, Texas/Purchase the MLPs of Nasr et al. (2018).
TABLE1_P1: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "CCQL": MappingProxyType(
            {"Texas": 0.607, "Purchase": 0.868, "ImageNet": 0.610, "CIFAR-10": 0.769, "CIFAR-100": 0.487}
        ),
        "CCEL": MappingProxyType(
            {"Texas": 0.608, "Purchase": 0.864, "ImageNet": 0.609, "CIFAR-10": 0.797, "CIFAR-100": 0.480}
        ),
        "w/o": MappingProxyType(
            {"Texas": 0.551, "Purchase": 0.858, "ImageNet": 0.598, "CIFAR-10": 0.741, "CIFAR-100": 0.273}
        ),
    }
)

#: Sec. 1 (Introduction) and Sec. 5.2 ("Can CCL improve privacy-utility trade-off?"):
#: CIFAR-10, ResNet-34, loss-metric attack (Yeom et al., 2018).  Among models whose
#: test accuracy is at least the vanilla model's, the lowest loss-attack advantage
#: of CCQL (alpha chosen on the grid of App. E.1) against that of Dropout, the
#: strongest baseline under the same condition.  Advantages are fractions.
LOSS_ATTACK_CIFAR10: Mapping[str, object] = MappingProxyType(
    {
        "dataset": "CIFAR-10",
        "model": "resnet34",
        "attack": "loss",
        "baseline": "dropout",
        "baseline_advantage": 0.2967,
        "ccql_advantage": 0.1840,
        "quoted_relative_reduction": 0.6201,  # the paper's wording; it is the ratio 18.40/29.67
        "source": "Sec. 1 (Introduction) and Sec. 5.2",
    }
)

#: Sec. 5.1 "Training details": SGD (momentum 0.9, weight decay 5e-4, batch 128,
#: lr 0.1 divided by 10 at each milestone).  Keys are ``load_dataset`` names.
TRAINING_RECIPES: Mapping[str, Mapping[str, object]] = MappingProxyType(
    {
        "cifar10": MappingProxyType({"model": "resnet34", "epochs": 300, "milestones": (150, 225)}),
        "cifar100": MappingProxyType({"model": "densenet121", "epochs": 300, "milestones": (150, 225)}),
        "imagenet": MappingProxyType({"model": "densenet121", "epochs": 90, "milestones": (30, 60)}),
        "texas100": MappingProxyType({"model": "mlp", "epochs": 120, "milestones": (50, 100)}),
        "purchase100": MappingProxyType({"model": "mlp", "epochs": 120, "milestones": (50, 100)}),
    }
)

#: App. D (Fig. 6): focal loss (gamma = 2) with the concave exponential term ("CCLE");
#: alpha is the best of {0.2, 0.4, 0.6, 0.8} "with restricted condition that performs
#: better utility"; ResNet-34 on CIFAR-10, eight attacks.  (The grids themselves are
#: ``ccl_lib.defenses.paper_grid("focal_ccl")``; App. E's grids and CCL scale factors
#: live in ``ccl_lib/configs/paper_grids.json``.)
APPENDIX_D: Mapping[str, object] = MappingProxyType(
    {"dataset": "cifar10", "model": "resnet34", "gamma": 2.0, "concave": "exp", "n_attacks": 8}
)


def paper_dataset_name(name: str) -> str:
    """Map a ``load_dataset`` name (``"cifar10"``) or a Table 1 column (``"CIFAR-10"``,
    any case) to the Table 1 column name.

    Raises ``KeyError`` naming the accepted spellings for a data set that is not in Table 1.

    Args:
        name: a data set name of :func:`ccl_lib.data.load_dataset` or a Table 1 column.
    """
    lookup = {k.lower(): k for k in DATASET_NAMES}
    lookup.update({v: k for k, v in DATASET_NAMES.items()})
    key = str(name).lower()
    if key in lookup:
        return lookup[key]
    raise KeyError(
        f"{name!r} is not a data set of Table 1; use one of {list(DATASET_NAMES)} "
        f"or their load_dataset names {list(DATASET_NAMES.values())}"
    )


def table1_p1(method: str, dataset: str) -> float:
    """The published P1 (Table 1) of ``method`` (``"CCQL"``, ``"CCEL"``, ``"w/o"``) on ``dataset``.

    ``dataset`` may be a Table 1 column (``"Texas"``) or a ``load_dataset`` name
    (``"texas100"``).  Method names are case-insensitive; ``"vanilla"`` and
    ``"none"`` are accepted for ``"w/o"``.
    """
    aliases = {"ccql": "CCQL", "ccel": "CCEL", "w/o": "w/o", "vanilla": "w/o", "none": "w/o", "wo": "w/o"}
    m = aliases.get(str(method).lower())
    if m is None:
        raise KeyError(f"unknown method {method!r}; Table 1 has {list(METHODS)} (or 'vanilla' for 'w/o')")
    return float(TABLE1_P1[m][paper_dataset_name(dataset)])


def table1(datasets: Optional[list[str]] = None):
    """Table 1 as a ``pandas.DataFrame``: one row per method, one column per data set.

    ``datasets`` selects and orders columns (Table 1 names or ``load_dataset``
    names); the default is all five, in the paper's order.
    """
    import pandas as pd

    cols = list(PAPER_DATASETS) if datasets is None else [paper_dataset_name(d) for d in datasets]
    return pd.DataFrame(
        {c: [TABLE1_P1[m][c] for m in METHODS] for c in cols},
        index=pd.Index(list(METHODS), name="method"),
    )


def relative_reduction(before: float, after: float) -> float:
    """``(before - after) / before``: the relative drop from ``before`` to ``after``.

    For the paper's CIFAR-10 loss-attack quote, ``relative_reduction(0.2967, 0.1840)``
    is 0.3798 (the paper's "62.01 %" is the ratio ``after / before``).
    """
    if not before > 0:
        raise ValueError(f"before must be > 0, got {before!r}")
    return (float(before) - float(after)) / float(before)


#: The two P1 definitions: the paper's text (Eq. 13 with the highest advantage ``Adv`` of all
#: attacks, ``Adv`` in [0, 1]) and the CCL release's (``ml-stat-Sustech/ConvexConcaveLoss``,
#: ``source/utility/process.py``, ``p_score``, called with the loss attack's *accuracy* ``x``).
#: Value: the smallest admissible ``x`` (advantage 0 or attack accuracy 0.5, i.e. chance).
P1_DEFINITIONS: Mapping[str, float] = MappingProxyType({"paper": 0.0, "release": 0.5})


def _definition(definition: str) -> float:
    if definition not in P1_DEFINITIONS:
        raise ValueError(f"unknown P1 definition {definition!r}; known: {list(P1_DEFINITIONS)}")
    return P1_DEFINITIONS[definition]


def max_p1(accuracy: float, definition: str = "paper") -> float:
    """The largest P1 a model of test ``accuracy`` can have under ``definition``.

    P1 = 2 a b / (a + b) grows with ``b = 1 - x``; ``x`` is at least 0 (an advantage, ``"paper"``)
    or 0.5 (an attack accuracy at chance, ``"release"``), so the bound is ``2a / (a + 1)`` or
    ``a / (a + 0.5)`` -- at most 2/3 for any accuracy under ``"release"``.

    Args:
        accuracy: test accuracy in [0, 1].
        definition: ``"paper"`` or ``"release"`` (:data:`P1_DEFINITIONS`).
    """
    a = float(accuracy)
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"accuracy must be a fraction in [0, 1], got {accuracy!r}")
    b = 1.0 - _definition(definition)
    return 0.0 if a + b == 0 else 2.0 * a * b / (a + b)


def required_complement(p1: float, accuracy: float) -> float:
    """``1 - x`` that a published ``p1`` needs at test ``accuracy``: ``b = P1 a / (2a - P1)`` (Eq. 13 solved).

    ``inf`` when ``2a <= P1`` (no ``b`` reaches that P1).  E.g. P1 = 0.741 at accuracy 0.85 needs
    ``b = 0.657``: an advantage of 0.343, or an attack accuracy of 0.343 -- below chance.

    Args:
        p1: a P1 score in [0, 1].
        accuracy: the test accuracy in (0, 1].
    """
    p, a = float(p1), float(accuracy)
    if not (0.0 <= p <= 1.0 and 0.0 < a <= 1.0):
        raise ValueError(f"need p1 in [0, 1] and accuracy in (0, 1], got {p1!r}, {accuracy!r}")
    return math.inf if 2.0 * a <= p else p * a / (2.0 * a - p)


def p1_consistency(accuracy: Optional[Mapping[str, float]] = None):
    """Which P1 definition each published Table 1 value is consistent with (pure arithmetic).

    For every cell: the least test accuracy that P1 needs under each definition
    (``P1 / (2 - P1)`` for ``"paper"``, ``P1 / (2 (1 - P1))`` for ``"release"``; above 1 means
    impossible), and whether each definition can give it at all.  With ``accuracy``
    (``{paper data set: test accuracy}``, e.g. read off Fig. 2), also the ``x`` each definition
    needs at that accuracy (``implied_adv``, ``implied_attack_acc``, both ``1 - b``) and whether
    it is admissible (``>= 0`` resp. ``>= 0.5``).

    Returns:
        a ``pandas.DataFrame``, one row per (method, data set).
    """
    import pandas as pd

    rows = []
    for m in METHODS:
        for d in PAPER_DATASETS:
            p = float(TABLE1_P1[m][d])
            row: dict[str, object] = {
                "method": m,
                "dataset": d,
                "p1": p,
                "min_acc_paper": p / (2.0 - p),
                "min_acc_release": p / (2.0 * (1.0 - p)) if p < 1 else math.inf,
            }
            row["paper_possible"] = row["min_acc_paper"] <= 1.0  # type: ignore[operator]
            row["release_possible"] = row["min_acc_release"] <= 1.0  # type: ignore[operator]
            if accuracy is not None and d in accuracy:
                a = float(accuracy[d])
                x = 1.0 - required_complement(p, a)
                row.update(
                    accuracy=a,
                    implied_adv=x,
                    implied_attack_acc=x,
                    paper_possible=bool(x >= 0.0),
                    release_possible=bool(x >= 0.5),
                )
            rows.append(row)
    return pd.DataFrame(rows)
