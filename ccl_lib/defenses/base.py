"""The :class:`Defense` base class and its hyperparameter specifications.

A *defense* is a training strategy (Liu et al., ICML 2024, Sec. 5.1 and App. E):
an :class:`ccl_lib.train.Objective` -- what the trainer minimizes per batch --
plus what the experiment engine must know around training:

* ``model_kwargs``: keyword arguments for :func:`ccl_lib.models.build_model`
  (the dropout defense sets ``{"dropout": p}``);
* ``checkpoint_epochs``: epochs whose weights the engine attacks (early stopping);
* ``needs_reference``: whether the defense uses the fifth, *reference* part of
  :func:`ccl_lib.splits.make_splits` (Mixup+MMD and adversarial regularization);
* :meth:`Defense.describe`: every hyperparameter, defaults included, as a
  JSON-serializable dict -- the identity of a run.

Each subclass declares its hyperparameters as :class:`Param` specifications in
``params``; the base class validates the keyword arguments against them (unknown
names and out-of-range values raise ``ValueError`` saying what is allowed).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..train import Objective, TrainConfig, TrainResult, fit
from ..utils import stable_hash

__all__ = [
    "Defense",
    "Param",
    "choice",
    "int_range",
    "number",
    "soft_cross_entropy",
    "epoch_list",
    "data_kind",
    "variant_param",
]

Tensor = torch.Tensor


# ---------------------------------------------------------------------------
# hyperparameter specifications
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """Specification of one hyperparameter.

    Attributes:
        default: value used when the caller does not give one.
        check: ``check(name, value) -> normalized value``; raises ``ValueError``
            with the allowed range when ``value`` is invalid.
        doc: one line for error messages and the book.
        in_key: the value is part of :meth:`Defense.describe` (the run's identity) even when it
            is the default.  ``False`` for a switch added after runs were recorded whose default
            reproduces them exactly (a ``variant``): its default leaves the identity unchanged.
    """

    default: Any
    check: Callable[[str, Any], Any]
    doc: str = ""
    in_key: bool = True


def number(
    lo: Optional[float] = None,
    hi: Optional[float] = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> Callable[[str, Any], float]:
    """Validator for a finite real number in ``[lo, hi]`` (ends open if asked).

    Args:
        lo: lower end (``None``: unbounded below).
        hi: upper end (``None``: unbounded above).
        lo_open: exclude ``lo`` itself.
        hi_open: exclude ``hi`` itself.

    Returns:
        ``check(name, value) -> float``, raising ``ValueError`` with the allowed range.
    """

    def describe() -> str:
        left = "(" if lo_open else "["
        right = ")" if hi_open or hi is None else "]"
        a = "-inf" if lo is None else f"{lo:g}"
        b = "inf" if hi is None else f"{hi:g}"
        return f"{left}{a}, {b}{right}"

    def check(name: str, value: Any) -> float:
        if isinstance(value, (bool, str, bytes)):
            raise ValueError(f"{name} must be a number in {describe()}, got {value!r}")
        if not isinstance(value, (int, float)):
            try:  # numpy scalars and 0-d tensors
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a number in {describe()}, got {value!r}") from None
        v = float(value)
        ok = math.isfinite(v)
        if ok and lo is not None:
            ok = v > lo if lo_open else v >= lo
        if ok and hi is not None:
            ok = v < hi if hi_open else v <= hi
        if not ok:
            raise ValueError(f"{name} must be a number in {describe()}, got {value!r}")
        return v

    check.allowed = describe()  # type: ignore[attr-defined]
    return check


def int_range(lo: int, hi: Optional[int] = None) -> Callable[[str, Any], int]:
    """Validator for an integer in ``[lo, hi]``.

    Args:
        lo: smallest allowed value.
        hi: largest allowed value (``None``: unbounded).

    Returns:
        ``check(name, value) -> int`` (integral floats are accepted, booleans are not).
    """

    allowed = f"[{lo}, {hi if hi is not None else 'inf'}]"

    def check(name: str, value: Any) -> int:
        ok = not isinstance(value, bool) and isinstance(value, (int, float))
        ok = ok and math.isfinite(value) and int(value) == value
        if not ok or int(value) < lo or (hi is not None and int(value) > hi):
            raise ValueError(f"{name} must be an integer in {allowed}, got {value!r}")
        return int(value)

    return check


def choice(*options: str) -> Callable[[str, Any], str]:
    """Validator for one of the strings ``options``."""

    def check(name: str, value: Any) -> str:
        if value not in options:
            raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")
        return str(value)

    return check


def variant_param(variants: Mapping[str, str], *, default: str = "paper", in_key: bool = False) -> Param:
    """The ``variant`` hyperparameter: one switch naming whose form of the defense runs.

    Args:
        variants: ``name -> the source it follows`` (repository, path and function, or the
            paper's section); the first line of each is the error message's list.
        default: the variant used when none is given (the paper's text).
        in_key: whether the default appears in :meth:`Defense.describe` (see :class:`Param`).

    An unknown name is refused with the list of known ones.
    """
    names = tuple(variants)
    if default not in names:
        raise ValueError(f"default variant {default!r} is not one of {list(names)}")

    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or value not in names:
            raise ValueError(f"unknown {name} {value!r}; known variants: {list(names)}")
        return value

    return Param(default, check, "one of " + ", ".join(names), in_key=in_key)


def data_kind(x: Any) -> str:
    """``"image"`` for a batch of shape (N, C, H, W), else ``"tabular"`` (what a variant may apply to).

    Args:
        x: a batch of inputs (anything with a ``shape``).
    """
    return "image" if len(getattr(x, "shape", ())) == 4 else "tabular"


def epoch_list(name: str, value: Any) -> tuple[int, ...]:
    """Validator for a non-empty list of distinct positive epochs (sorted on return).

    Args:
        name: the hyperparameter's name, for error messages.
        value: an integer or an iterable of positive integer epochs.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (str, bytes)) and hasattr(value, "__iter__"):
        value = list(value)  # tuples, ranges, NumPy arrays
    if not isinstance(value, list) or len(value) == 0:
        raise ValueError(f"{name} must be a non-empty list of positive integer epochs, got {value!r}")
    out = []
    for e in value:
        if hasattr(e, "item") and not isinstance(e, (int, float)):
            e = e.item()  # NumPy / torch scalars
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not math.isfinite(e) or int(e) != e or int(e) < 1:
            raise ValueError(f"{name} must hold positive integer epochs, got {e!r} in {value!r}")
        out.append(int(e))
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat an epoch, got {list(value)!r}")
    return tuple(sorted(out))


# ---------------------------------------------------------------------------
# small shared pieces
# ---------------------------------------------------------------------------


def soft_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Per-sample cross-entropy ``-sum_c t_c log softmax(z)_c`` with soft targets ``t`` (N, K).

    Args:
        logits: (N, K) logits ``z``.
        targets: (N, K) target distributions ``t`` (rows summing to 1).
    """
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1)


def _json_value(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_json_value(x) for x in v]
    return v


# ---------------------------------------------------------------------------
# the base class
# ---------------------------------------------------------------------------


class Defense(Objective):
    """A defense: a training objective plus the settings the engine needs around it.

    Subclasses set ``name`` (the registry name), ``params`` (a mapping from each
    hyperparameter name to its :class:`Param`), optionally ``needs_reference``
    and ``fixed`` (settings the variant pins, reported in :meth:`describe`),
    and implement :meth:`loss` (see :class:`ccl_lib.train.Objective`).  The
    validated hyperparameters, defaults and fixed settings included, are in
    ``self.hparams``.

    A defense object holds per-run state only from :meth:`setup` on (e.g. the
    inference model of adversarial regularization), so one object can train
    several models one after the other.
    """

    name: str = "defense"  # an instance attribute of Objective (LossObjective sets its own)
    needs_reference: bool = False
    params: ClassVar[Mapping[str, Param]] = {}
    #: ``variant -> data kinds it applies to`` for variants that do not apply to every kind
    #: (:meth:`check_data` refuses the others with a one-line reason)
    variant_kinds: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    #: settings a defense fixes (e.g. ``ccql``: ``concave="quadratic"``); part of the identity,
    #: accepted as keywords only with exactly these values
    fixed: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, **hparams: Any) -> None:
        for key, value in self.fixed.items():
            if key in hparams:
                if hparams[key] != value:
                    raise ValueError(
                        f"defense {self.name!r} fixes {key}={value!r} (got {hparams[key]!r})" + self._fixed_hint(key)
                    )
                hparams = {k: v for k, v in hparams.items() if k != key}
        unknown = sorted(set(hparams) - set(self.params))
        if unknown:
            allowed = ", ".join(f"{k} ({p.doc})" if p.doc else k for k, p in self.params.items()) or "none"
            raise ValueError(f"unknown hyperparameter(s) {unknown} for defense {self.name!r}; allowed: {allowed}")
        values: dict[str, Any] = {}
        for key, spec in self.params.items():
            raw = hparams.get(key, spec.default)
            try:
                values[key] = spec.check(key, raw)
            except ValueError as exc:
                raise ValueError(f"defense {self.name!r}: {exc}") from None
        values.update(self.fixed)
        self.hparams: dict[str, Any] = values
        #: the run's recipe, set by :meth:`bind` (:meth:`train` does); variants that follow a
        #: code base whose step depends on the epoch count or learning rate read it
        self.recipe: Optional[TrainConfig] = None
        self._checked_kind: Optional[str] = None
        self._validate()

    def _fixed_hint(self, key: str) -> str:
        """Advice appended to the error for a fixed setting given another value."""
        return ""

    # -- hooks ---------------------------------------------------------------

    def _validate(self) -> None:
        """Cross-parameter checks of a subclass (raise ``ValueError``)."""

    # -- what the engine reads -------------------------------------------------

    @property
    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`ccl_lib.models.build_model` (``{}`` by default)."""
        return {}

    @property
    def checkpoint_epochs(self) -> tuple[int, ...]:
        """Epochs whose weights are kept (early stopping); ``()`` by default."""
        return ()

    def describe(self) -> dict[str, Any]:
        """``{"defense": name, **hyperparameters}``: JSON-serializable, the run's identity.

        A hyperparameter whose :class:`Param` has ``in_key=False`` appears only when it differs
        from its default (so adding a ``variant`` switch keeps the identity of recorded runs).
        """
        out: dict[str, Any] = {"defense": self.name}
        for k, v in self.hparams.items():
            spec = self.params.get(k)
            if spec is not None and not spec.in_key and v == spec.default:
                continue
            out[k] = _json_value(v)
        return out

    # -- variants ----------------------------------------------------------------

    def check_data(self, kind: str) -> None:
        """Refuse (``ValueError``, one line) a ``variant`` that does not apply to ``kind`` data.

        Args:
            kind: ``"tabular"`` or ``"image"`` (e.g. ``RunSpec.kind``).
        """
        variant = self.hparams.get("variant")
        kinds = self.variant_kinds.get(variant) if isinstance(variant, str) else None
        if kinds is not None and kind not in kinds:
            raise ValueError(
                f"defense {self.name!r} variant {variant!r} follows code for {' and '.join(kinds)} data; "
                f"it does not apply to {kind} data"
            )

    def _check_batch(self, x: Any) -> None:
        """:meth:`check_data` on the kind of a training batch (once per kind; no device sync)."""
        kind = data_kind(x)
        if kind != self._checked_kind:
            self.check_data(kind)
            self._checked_kind = kind

    def bind(self, config: TrainConfig) -> None:
        """Give the defense the run's recipe (epochs, learning rate), as :meth:`train` does.

        Only variants that follow a code base whose training step depends on the recipe read it;
        call this before :func:`ccl_lib.train.fit` or :func:`ccl_lib.train.fit_many` when not
        training through :meth:`train`.

        Args:
            config: the run's :class:`~ccl_lib.train.TrainConfig`.
        """
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a ccl_lib.train.TrainConfig, got {type(config).__name__}")
        self.recipe = config

    def identity(self) -> str:
        """A short stable hash of :meth:`describe` (for file and run names)."""
        return stable_hash(self.describe())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hparams.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Defense) and self.describe() == other.describe()

    def __hash__(self) -> int:
        return hash(self.identity())

    # -- training ----------------------------------------------------------------

    def train(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        *,
        config: TrainConfig = TrainConfig(),
        x_test: Optional[Tensor] = None,
        y_test: Optional[Tensor] = None,
        reference: Optional[tuple[Tensor, Tensor]] = None,
        progress: Optional[bool] = None,
        desc: str = "train",
        checkpoint_dir: Any = None,
    ) -> TrainResult:
        """Train ``model`` in place with this defense and return the history.

        Calls :func:`ccl_lib.train.fit` with ``objective=self`` and ``config``
        whose ``checkpoint_epochs`` are the union of ``config``'s and
        :attr:`checkpoint_epochs`.  ``reference`` (the reference split) is
        required when :attr:`needs_reference` is true and ignored otherwise.

        Args:
            model: the model to train (in place).
            x: training features (a float tensor or :class:`ccl_lib.augment.DeviceImages`).
            y: integer training labels.
            config: the :class:`~ccl_lib.train.TrainConfig` recipe.
            x_test: test features, evaluated after every epoch (``test_acc`` in the history).
            y_test: their labels.
            reference: ``(x, y)`` of the reference split, for defenses that need one.
            progress: show a tqdm bar (default: on unless ``CCL_PROGRESS=0``).
            desc: the progress bar's label.
            checkpoint_dir: if given, checkpoint state dicts are also written there
                (see :func:`ccl_lib.train.fit`).
        """
        config = self.adapt_config(config)
        wanted = tuple(sorted(set(config.checkpoint_epochs) | set(self.checkpoint_epochs)))
        too_late = [e for e in wanted if e > config.epochs]
        if too_late:
            raise ValueError(
                f"defense {self.name!r} asks for checkpoints at epochs {too_late}, beyond the "
                f"{config.epochs} training epochs; rescale them (ccl_lib.defenses.rescale_epochs) "
                "or train longer"
            )
        if wanted != config.checkpoint_epochs:
            config = dataclasses.replace(config, checkpoint_epochs=wanted)
        self.check_data(data_kind(x))
        self.bind(config)
        if self.needs_reference:
            if reference is None:
                raise ValueError(
                    f"defense {self.name!r} needs the reference split: pass reference=(x_ref, y_ref) "
                    "from make_splits(..., n_parts=5)"
                )
        else:
            reference = None
        self._before_fit(reference)
        try:
            return fit(
                model,
                x,
                y,
                objective=self,
                config=config,
                x_test=x_test,
                y_test=y_test,
                reference=reference,
                checkpoint_dir=checkpoint_dir,
                progress=progress,
                desc=desc,
            )
        finally:
            self._after_fit()

    def _before_fit(self, reference: Optional[tuple[Tensor, Tensor]]) -> None:
        """Hook called by :meth:`train` before :func:`fit` (e.g. keep the reference pool)."""

    def _after_fit(self) -> None:
        """Hook called by :meth:`train` after :func:`fit` (release per-run state)."""
