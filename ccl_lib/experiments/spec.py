"""What one experiment run is: :class:`RunSpec`, its cache key, and grids of runs.

A *run* (Sec. 5.1 of Liu et al., ICML 2024) trains a target model and a shadow
model with the same defense and recipe on disjoint parts of one data set
(:func:`ccl_lib.splits.make_splits`), then attacks the target with every
attack of :mod:`ccl_lib.attacks`.  A :class:`RunSpec` holds every setting that
changes the result; :meth:`RunSpec.key` hashes all of them -- the defense's
full :meth:`~ccl_lib.defenses.base.Defense.describe` included, so defaults such
as the CCL ``scale`` of App. E.1 are part of the identity -- and names the
run's folder in the result cache.

(The authors' release named runs without the scale factor, so runs that
differed only in ``scale`` overwrote each other; here two such runs have
different keys and different labels.)

The device (CPU or GPU) is an execution setting, not part of the key: the
cache entry records where it ran.  The values a spec is made of (:class:`FrozenDict`,
:func:`derive_seed`, :func:`dataset_kind`) live in :mod:`ccl_lib.experiments.values`.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping as _MappingABC
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

import numpy as np

from ..utils import stable_hash
from .values import FrozenDict, _canonical_dataset, _number, _positive_int, dataset_kind, derive_seed

if TYPE_CHECKING:
    from ..train import TrainConfig

__all__ = [
    "RESULTS_FORMAT",
    "RunSpec",
    "dataset_kind",
    "derive_seed",
    "grid",
]

#: Version of the stored results; part of every key (bump it when rows change meaning).
# 2: bootstrap interval columns (<metric>_low, <metric>_high) in every row.
# 3: `advantage` = the attacker's shadow-learned rule on the target (Eq. 2, footnote 2), `advantage_oracle`
#    beside it, `paper_attack`, P1/max_advantage over the paper's attacks, confidence = max probability.
RESULTS_FORMAT = 3

#: The paper trains CIFAR models for 300 epochs; its early-stopping checkpoints
#: (App. E.2: 25, 50, ..., 275) refer to that count.
PAPER_EPOCHS = 300


# --------------------------------------------------------------------------- RunSpec


@dataclass(frozen=True)
class RunSpec:
    """Every setting of one run: data, model, defense, training recipe, attacks, seed.

    Attributes:
        dataset: a name of :func:`ccl_lib.data.load_dataset` (``"location"``,
            ``"cifar10"``, ...).
        defense: a name of :data:`ccl_lib.defenses.DEFENSE_NAMES`.
        hparams: the defense's hyperparameters given explicitly (defaults are
            filled by the defense; CCL's ``scale`` defaults to
            :func:`ccl_lib.defenses.default_scale` of the data set, App. E.1).
        model: a name of :func:`ccl_lib.models.build_model` or ``"auto"``
            (MLP for tabular data, small CNN for images).
        seed: seeds the split, both models (through :func:`derive_seed`) and
            the attacks.
        epochs: training epochs of the SGD recipe of Sec. 5.1 (>= 1).
        milestones: epochs at which the learning rate is divided by 10 (each < ``epochs``;
            empty: constant learning rate).
        lr: initial SGD learning rate (> 0).
        batch_size: minibatch size (>= 1).
        momentum: SGD momentum in [0, 1).
        weight_decay: SGD's L2 weight decay (>= 0).
        augment: random crop + flip of training images (ignored for tabular data).
        size: examples per split part; ``None`` uses all the data.
        attacks: attack names; ``None`` runs the default suite for the data kind.  Unknown names and
            attacks of the other data kind are refused when the spec is made; the reference-model
            attacks (``lira``, ``lira_offline``, ``rmia``, ``lira_reference``) train their reference
            models with this spec's defense and recipe, and are refused for a defense that needs a
            reference split or keeps early-stopping checkpoints.
        amp: bfloat16 autocast on CUDA (no effect on the CPU).
    """

    dataset: str
    defense: str = "vanilla"
    hparams: Mapping[str, Any] = field(default_factory=FrozenDict)
    model: str = "auto"
    seed: int = 0
    epochs: int = 30
    milestones: tuple[int, ...] = ()
    lr: float = 0.1
    batch_size: int = 128
    momentum: float = 0.9
    weight_decay: float = 5e-4
    augment: bool = False
    size: Optional[int] = None
    attacks: Optional[tuple[str, ...]] = None
    amp: bool = True

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "dataset", _canonical_dataset(self.dataset))
        if self.dataset.lower().startswith("imagefolder:"):
            # The content identity of a user's image tree is part of the key: a changed folder
            # is another experiment.  Taken once, when the spec is made (make a new spec after editing).
            from ..data import imagefolder_fingerprint

            s(self, "_fingerprint", imagefolder_fingerprint(self.dataset.split(":", 1)[1]))
        if not isinstance(self.defense, str) or not self.defense:
            raise ValueError(
                f"defense must be a defense name (see ccl_lib.defenses.DEFENSE_NAMES), got {self.defense!r}"
            )
        s(self, "defense", self.defense.strip().lower())
        if self.hparams is None:
            s(self, "hparams", FrozenDict())
        if not isinstance(self.hparams, _MappingABC):
            raise TypeError(f"hparams must be a dict of hyperparameters, got {type(self.hparams).__name__}")
        if not isinstance(self.hparams, FrozenDict):
            s(self, "hparams", FrozenDict(self.hparams))
        from ..models import MODEL_NAMES

        if self.model not in (*MODEL_NAMES, "auto"):
            raise ValueError(f"unknown model {self.model!r}; use one of {MODEL_NAMES} or 'auto'")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        s(self, "seed", int(self.seed))
        s(self, "epochs", _positive_int("epochs", self.epochs))
        if isinstance(self.milestones, (int, float)) and not isinstance(self.milestones, bool):
            s(self, "milestones", (self.milestones,))
        try:
            if isinstance(self.milestones, (str, bytes, _MappingABC)):
                raise TypeError
            raw_ms = tuple(self.milestones or ())
        except TypeError:
            raise ValueError(f"milestones must be a list of increasing epochs, got {self.milestones!r}") from None
        ms = tuple(_positive_int("milestone", m) for m in raw_ms)
        if list(ms) != sorted(set(ms)):
            raise ValueError(f"milestones must be strictly increasing epochs, got {list(ms)}")
        if ms and ms[-1] > self.epochs:
            raise ValueError(
                f"milestone {ms[-1]} is beyond the {self.epochs} training epochs; rescale the schedule "
                f"(ccl_lib.defenses.rescale_epochs) or train longer"
            )
        s(self, "milestones", ms)
        s(self, "lr", _number("lr", self.lr, 0.0, lo_open=True))
        s(self, "batch_size", _positive_int("batch_size", self.batch_size))
        s(self, "momentum", _number("momentum", self.momentum, 0.0, 1.0))
        if self.momentum >= 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        s(self, "weight_decay", _number("weight_decay", self.weight_decay, 0.0))
        if not isinstance(self.augment, bool):
            raise ValueError(f"augment must be true or false, got {self.augment!r}")
        if not isinstance(self.amp, bool):
            raise ValueError(f"amp must be true or false, got {self.amp!r}")
        if self.size is not None:
            s(self, "size", _positive_int("size", self.size))
        if self.attacks is not None:
            if isinstance(self.attacks, str):
                s(self, "attacks", (self.attacks,))
            atk = tuple(self.attacks)
            if not atk or not all(isinstance(a, str) and a for a in atk):
                raise ValueError(f"attacks must be a non-empty list of attack names or None, got {self.attacks!r}")
            if len(set(atk)) != len(atk):
                raise ValueError(f"attacks must not repeat a name, got {list(atk)}")
            s(self, "attacks", atk)
        defense = self.make_defense()  # unknown names, hyperparameters and ranges fail here, not mid-sweep
        defense.check_data(self.kind)  # a variant written for the other data kind, with the defense's reason
        late = [e for e in defense.checkpoint_epochs if e > self.epochs]
        if late:
            raise ValueError(
                f"defense {self.defense!r} keeps checkpoints at epochs {late}, beyond the {self.epochs} training "
                "epochs; rescale them (ccl_lib.defenses.rescale_epochs, or grid(), which rescales the paper's) "
                "or train longer"
            )
        if self.attacks is not None:
            self._check_reference_attacks(self.resolved_attacks, defense)

    def _check_reference_attacks(self, attacks: tuple[str, ...], defense: Any) -> None:
        """Refuse reference-model attacks (LiRA, RMIA) that the run engine cannot train like the target.

        Their reference models train on the attacker's pool with the spec's defense and recipe
        (:data:`ccl_lib.attacks.suite.REFERENCE_ATTACKS`), without a reference split and to the
        last epoch; a defense that needs a reference split, or keeps early-stopping checkpoints
        (its target is attacked at each), has no such twin.
        """
        from ..attacks.suite import REFERENCE_ATTACKS

        ref = [a for a in attacks if a in REFERENCE_ATTACKS]
        why = (
            "needs a reference split, which the attacker's reference models do not get"
            if defense.needs_reference
            else "keeps early-stopping checkpoints, while the reference models train to the last epoch"
            if defense.checkpoint_epochs
            else None
        )
        if ref and why:
            raise ValueError(
                f"attack(s) {ref} train reference models like the target, but defense {self.defense!r} {why}; "
                "drop them from this spec, or run LiRA / RMIA on a target of your own with "
                "ccl_lib.attacks.strong.run_strong_attacks"
            )

    # -- derived -----------------------------------------------------------

    @property
    def kind(self) -> str:
        """``"tabular"`` or ``"image"``."""
        return dataset_kind(self.dataset)

    @property
    def resolved_model(self) -> str:
        """The model name with ``"auto"`` resolved (``mlp`` for tabular, ``small_cnn`` for images)."""
        if self.model != "auto":
            return self.model
        return "mlp" if self.kind == "tabular" else "small_cnn"

    @property
    def resolved_attacks(self) -> tuple[str, ...]:
        """The attack names run: ``attacks``, or the default suite of :mod:`ccl_lib.attacks` for the data kind."""
        from .. import attacks as _attacks

        if self.attacks is None:
            return tuple(_attacks.default_attacks(self.kind))
        unknown = [a for a in self.attacks if a not in _attacks.ATTACKS]
        if unknown:
            raise ValueError(f"unknown attack(s) {unknown}; registered attacks: {sorted(_attacks.ATTACKS)}")
        if self.kind == "tabular":
            img = [a for a in self.attacks if getattr(_attacks.ATTACKS[a], "image_only", False)]
            if img:
                raise ValueError(
                    f"attack(s) {img} need image data; {self.dataset!r} is tabular "
                    f"(tabular attacks: {list(_attacks.TABULAR_ATTACKS)})"
                )
        else:
            tab = [a for a in self.attacks if getattr(_attacks.ATTACKS[a], "tabular_only", False)]
            if tab:
                raise ValueError(f"attack(s) {tab} apply to tabular data only; {self.dataset!r} is image data")
        return tuple(self.attacks)

    def defense_hparams(self) -> dict[str, Any]:
        """The defense's keyword arguments: ``hparams`` plus data-set defaults.

        For the CCL family (``ccl``, ``ccel``, ``ccql``, ``focal_ccl``) a missing
        ``scale`` is :func:`ccl_lib.defenses.default_scale` of the data set
        (App. E.1: 0.01 on CIFAR-10, 0.05 on CIFAR-100, 1 otherwise).
        """
        from .. import defenses as _defenses

        hp = self.hparams.to_dict()  # type: ignore[attr-defined]
        cls = _defenses.defense_class(self.defense)
        if issubclass(cls, _defenses.CCL) and "scale" in (cls.params or {}) and "scale" not in hp:
            hp["scale"] = float(_defenses.default_scale(self.dataset))
        return hp

    def make_defense(self):
        """A fresh :class:`ccl_lib.defenses.Defense` for this run (validated hyperparameters)."""
        from .. import defenses as _defenses

        return _defenses.get_defense(self.defense, **self.defense_hparams())

    def n_parts(self) -> int:
        """4 split parts, or 5 for defenses that need the reference part (Sec. 5.1)."""
        from .. import defenses as _defenses

        return int(_defenses.n_parts_for(self.defense))

    def train_config(self, role_seed: int, device: Any = "auto") -> TrainConfig:
        """The :class:`ccl_lib.train.TrainConfig` of one model of this run: the one way from a spec to a recipe.

        The SGD recipe of Sec. 5.1 with this spec's epochs, milestones, learning
        rate, batch size, momentum, weight decay and ``amp``; crop-and-flip
        augmentation only on image data (as :meth:`identity` records it).

        Args:
            role_seed: the model's training seed, a non-negative integer; the run's target
                and shadow use ``derive_seed(spec.seed, "target")`` / ``(..., "shadow")``.
            device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a ``torch.device``.
        """
        from ..train import TrainConfig

        if isinstance(role_seed, bool) or not isinstance(role_seed, (int, np.integer)) or role_seed < 0:
            raise ValueError(
                f"role_seed must be a non-negative integer (e.g. derive_seed(seed, role)), got {role_seed!r}"
            )
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            milestones=self.milestones,
            augment=bool(self.augment and self.kind == "image"),
            seed=int(role_seed),
            device=str(device),
            amp=self.amp,
        )

    def identity(self) -> dict[str, Any]:
        """The canonical dict hashed by :meth:`key`: every setting that changes a result."""
        return {
            "format": RESULTS_FORMAT,
            "dataset": self.dataset,
            "kind": self.kind,
            "model": self.resolved_model,
            "defense": self.make_defense().describe(),
            "n_parts": self.n_parts(),
            "seed": self.seed,
            "epochs": self.epochs,
            "milestones": list(self.milestones),
            "lr": self.lr,
            "batch_size": self.batch_size,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "augment": bool(self.augment and self.kind == "image"),
            "size": self.size,
            "attacks": sorted(self.resolved_attacks),
            "amp": self.amp,
            **self._data_identity(),
        }

    def _data_identity(self) -> dict[str, Any]:
        """For ``imagefolder:<path>`` the folder's content fingerprint (taken when the spec was made)."""
        fp = self.__dict__.get("_fingerprint")
        return {} if fp is None else {"dataset_fingerprint": fp}

    def key(self) -> str:
        """16 hex digits of :func:`ccl_lib.utils.stable_hash` of :meth:`identity` (the cache folder name)."""
        return stable_hash(self.identity(), length=16)

    def defense_label(self) -> str:
        """The defense with every non-default hyperparameter (``scale`` always): ``"ccql(alpha=0.5, scale=1)"``."""
        d = self.make_defense()
        desc = d.describe()
        try:
            defaults = type(d)().describe()
        except Exception:  # a defense without defaults for every parameter
            defaults = {}
        parts = []
        for k, v in desc.items():
            if k in ("defense", "name"):
                continue
            if k == "scale" or k in self.hparams or defaults.get(k, object()) != v:
                parts.append(f"{k}={_fmt(v)}")
        return f"{self.defense}({', '.join(parts)})" if parts else self.defense

    def setting_label(self) -> str:
        """:meth:`label` without the seed: names one point of a privacy-utility curve."""
        text = self.defense_label()
        recipe = []
        ref = RunSpec(self.dataset)
        for f in (
            "epochs",
            "milestones",
            "lr",
            "batch_size",
            "momentum",
            "weight_decay",
            "augment",
            "size",
            "attacks",
            "amp",
        ):
            v = getattr(self, f)
            if v != getattr(ref, f):
                recipe.append(f"{f}={_fmt(v)}")
        head = f"{self.dataset}/{self.resolved_model}"
        return " ".join([head, text, *recipe])

    def label(self) -> str:
        """A human-readable name: data set, model, defense with every non-default
        hyperparameter (``scale`` always), non-default recipe settings, seed."""
        return f"{self.setting_label()} seed={self.seed}"

    # -- conversions -----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-serializable dict (round-trips through :meth:`from_dict`)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["hparams"] = self.hparams.to_dict()  # type: ignore[attr-defined]
        d["milestones"] = list(self.milestones)
        d["attacks"] = None if self.attacks is None else list(self.attacks)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunSpec:
        """Build a spec from :meth:`to_dict`'s output (unknown keys are an error)."""
        if not isinstance(d, _MappingABC):
            raise TypeError(f"a run spec must be a dict, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown run setting(s) {unknown}; allowed: {sorted(names)}")
        kw = dict(d)
        if kw.get("milestones") is not None:
            kw["milestones"] = tuple(kw["milestones"])
        if kw.get("attacks") is not None and not isinstance(kw["attacks"], str):
            kw["attacks"] = tuple(kw["attacks"])
        return cls(**kw)

    def replace(self, **changes: Any) -> RunSpec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_fmt(x) for x in v) + "]"
    return str(v)


# --------------------------------------------------------------------------- grids

HParamGrid = Union[None, str, Mapping[str, Any], Sequence[Mapping[str, Any]]]


def _expand_defenses(defenses: Any) -> list[tuple[str, list[dict[str, Any]], bool]]:
    from .. import defenses as _defenses

    if isinstance(defenses, str):
        defenses = [defenses]
    if isinstance(defenses, _MappingABC):
        items = list(defenses.items())
    elif isinstance(defenses, Sequence):
        items = [(d, None) for d in defenses]
    else:
        raise TypeError(
            f"defenses must be a dict {{name: hyperparameter grid}} or a list of names, got {type(defenses).__name__}"
        )
    out = []
    for name, g in items:
        if not isinstance(name, str) or name not in _defenses.DEFENSE_NAMES:
            raise ValueError(f"unknown defense {name!r}; valid names: {list(_defenses.DEFENSE_NAMES)}")
        from_paper = g is None or (isinstance(g, str) and g == "paper")
        if from_paper:
            points = [dict(p) for p in _defenses.paper_grid(name)]
        elif isinstance(g, str):
            raise ValueError(f"the grid of {name!r} must be a list of dicts, a dict, None or 'paper', got {g!r}")
        elif isinstance(g, _MappingABC):
            points = _product(g)
        elif isinstance(g, Sequence):
            points = []
            for p in g:
                if not isinstance(p, _MappingABC):
                    raise TypeError(f"each grid point of {name!r} must be a dict of hyperparameters, got {p!r}")
                points.extend(_product(p))
        else:
            raise TypeError(
                f"the grid of {name!r} must be a list of dicts, a dict, None or 'paper', got {type(g).__name__}"
            )
        out.append((name, points or [{}], from_paper))
    return out


def _product(point: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``{"alpha": {"grid": [0.1, 0.2]}, "scale": 1}`` -> two points (explicit products only)."""
    keys, values = [], []
    for k, v in point.items():
        keys.append(k)
        if isinstance(v, _MappingABC) and set(v) == {"grid"}:
            values.append(list(v["grid"]))
        else:
            values.append([v])
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]


def _rescale_point(
    defense: str, point: dict[str, Any], epochs: int, reference_epochs: int, from_paper: bool
) -> dict[str, Any]:
    """Rescale the paper's early-stopping checkpoints from ``reference_epochs`` to ``epochs`` (App. E.2).

    Checkpoints of the paper's grid, and the default ones of a point that gives
    none, are rescaled; checkpoints the caller wrote explicitly are kept.
    """
    from .. import defenses as _defenses
    from ..defenses.base import epoch_list

    out = dict(point)
    if epochs == reference_epochs:
        return out
    params = getattr(_defenses.defense_class(defense), "params", None) or {}
    for k, p in params.items():
        if getattr(p, "check", None) is epoch_list and (from_paper or k not in out):
            out[k] = list(_defenses.rescale_epochs(out.get(k, p.default), epochs, reference_epochs))
    return out


def grid(
    dataset: Union[str, Sequence[str]],
    defenses: Any = ("vanilla",),
    seeds: Union[int, Sequence[int]] = (0,),
    *,
    model: str = "auto",
    epochs: int = 30,
    milestones: Sequence[int] = (),
    lr: float = 0.1,
    batch_size: int = 128,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    augment: bool = False,
    size: Optional[int] = None,
    attacks: Optional[Sequence[str]] = None,
    amp: bool = True,
    early_stopping_reference_epochs: int = PAPER_EPOCHS,
) -> list[RunSpec]:
    """Build the runs of a sweep in one call (Fig. 2/3 and Table 1 of the paper).

    Args:
        dataset: one data set name or a list of names.
        defenses: ``{name: grid}`` where ``grid`` is a list of hyperparameter
            dicts, one dict, ``None`` or ``"paper"`` (the paper's grid,
            :func:`ccl_lib.defenses.paper_grid`, App. E); or a list of names
            (each with its paper grid).  A value ``{"grid": [...]}`` inside a
            dict expands to one point per entry.
        seeds: one seed or a list; every grid point runs once per seed.
        model, epochs, milestones, lr, batch_size, momentum, weight_decay, augment, size, attacks, amp: the
            :class:`RunSpec` fields shared by all runs.
        early_stopping_reference_epochs: the epoch count the early-stopping
            checkpoints refer to (the paper's 300); they are rescaled to
            ``epochs`` (e.g. 25..275 of 300 become 3..28 of 30).

    Returns:
        the specs, data set by data set, defense by defense, point by point,
        seed by seed; duplicates (same :meth:`RunSpec.key`) are dropped.

    Example::

        specs = grid("location", {"vanilla": [{}], "ccql": "paper"}, seeds=[0, 1], epochs=30)
    """
    datasets = [dataset] if isinstance(dataset, str) else list(dataset)
    if not datasets:
        raise ValueError("dataset must be a name or a non-empty list of names")
    seed_list = [seeds] if isinstance(seeds, int) else list(seeds)
    if not seed_list:
        raise ValueError("seeds must be an integer or a non-empty list of integers")
    specs: list[RunSpec] = []
    seen: set[str] = set()
    expanded = _expand_defenses(defenses)
    for ds in datasets:
        for name, points, from_paper in expanded:
            for point in points:
                point = _rescale_point(name, point, int(epochs), int(early_stopping_reference_epochs), from_paper)
                for seed in seed_list:
                    spec = RunSpec(
                        dataset=ds,
                        defense=name,
                        hparams=point,
                        model=model,
                        seed=seed,
                        epochs=epochs,
                        milestones=tuple(milestones),
                        lr=lr,
                        batch_size=batch_size,
                        momentum=momentum,
                        weight_decay=weight_decay,
                        augment=augment,
                        size=size,
                        attacks=None if attacks is None else tuple(attacks),
                        amp=amp,
                    )
                    k = spec.key()
                    if k not in seen:
                        seen.add(k)
                        specs.append(spec)
    return specs
