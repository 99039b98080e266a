"""The papermill contract of the book: every chapter parameter, its allowed values, one check.

Each chapter (``notebooks/NN_*.py``) has a ``parameters`` cell that papermill can override
(``papermill ch.ipynb out.ipynb -p alphas "[0.1, 0.9]"``).  Right after it, the chapter calls::

    from ccl_lib.parameters import check_parameters

    globals().update(check_parameters("05_alpha_ablation", globals()))

which checks every parameter of that chapter against :data:`CHAPTERS` *before* anything is
trained, loaded or written, and stops with one line that names the parameter, the value and
what is allowed, e.g. ``parameter alphas: -1 is not in [0, 1]``.  It returns the values with
papermill's text parsed (``"[0.1, 0.9]"`` -> ``[0.1, 0.9]``, ``'{"epochs": 5}'`` -> a dict).

:data:`CHAPTERS` holds, for each chapter, every parameter's default (equal to the chapter's
``parameters`` cell: ``tests/test_parameters.py`` compares them), its allowed values, the checks that
involve several parameters (``augment=True`` on tabular data, milestones past the last epoch,
...), and the papermill command for the paper's setting (or a larger one) that the chapter
states at its top.  :func:`parse_parameters_cell` reads a parameters cell (names, defaults and
the comment above each); ``tools/parameters_page.py`` writes the book's parameter page from both.
"""

from __future__ import annotations

import ast
import io
import json
import math
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

__all__ = [
    "CHAPTERS",
    "ChapterParameters",
    "Check",
    "Parameter",
    "ParameterError",
    "check_parameters",
    "chapter_parameters",
    "parse_parameters_cell",
    "read_parameters_cell",
]


class ParameterError(ValueError):
    """A chapter parameter with a value the chapter cannot use.

    Its message is one line: ``parameter <name>: <value> is not <what is allowed>``.  In a
    notebook (IPython, and so papermill's error report) the traceback is that line alone,
    since the error is in the caller's input, not in the library.

    Args:
        name: the parameter's name in the chapter's ``parameters`` cell.
        value: the value it was given (the offending element of a list, where one element is wrong).
        allowed: what is allowed, the text after "is not" (e.g. ``"in [0, 1]"``).
        detail: a whole message after ``parameter <name>:`` instead (checks of several parameters).
    """

    def __init__(self, name: str, value: Any, allowed: str, *, detail: Optional[str] = None) -> None:
        self.name, self.value, self.allowed = name, value, allowed
        shown = _show(value)
        msg = f"parameter {name}: {shown} is not {allowed}" if detail is None else f"parameter {name}: {detail}"
        super().__init__(msg)

    def _render_traceback_(self) -> list[str]:  # IPython's hook: the lines shown instead of a traceback
        return [f"{type(self).__name__}: {self}"]


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


# ------------------------------------------------------------------------------------------------ checks
class _Invalid(Exception):
    """Raised by a check: the offending value (an item of a list, or the whole value)."""

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.value = value


@dataclass(frozen=True)
class Check:
    """One parameter's allowed values: ``allowed`` (the text after "is not") and a converter.

    Attributes:
        allowed: what is allowed, the text after "is not" in :class:`ParameterError`'s message.
        convert: ``convert(value)`` returns the value the chapter uses (papermill text parsed) or
            raises ``_Invalid(offending value)``.
    """

    allowed: str
    convert: Callable[[Any], Any]

    def __call__(self, name: str, value: Any) -> Any:
        try:
            return self.convert(value)
        except _Invalid as bad:
            raise ParameterError(name, bad.value, self.allowed) from None

    def describe(self) -> str:
        """What is allowed, for the book's parameters page (names looked up in the library listed)."""
        return self.allowed


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _range_text(lo: Optional[float], hi: Optional[float], lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi:g}"
    return "finite"


def _in_range(v: float, lo: Optional[float], hi: Optional[float], lo_open: bool, hi_open: bool) -> bool:
    if lo is not None and (v <= lo if lo_open else v < lo):
        return False
    return not (hi is not None and (v >= hi if hi_open else v > hi))


def integer(lo: Optional[int] = None, hi: Optional[int] = None, *, none: bool = False) -> Check:
    """An integer in ``[lo, hi]`` (either bound may be missing); with ``none``, also ``None``."""

    def convert(v: Any) -> Any:
        if v is None and none:
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if not _is_int(v) or not _in_range(v, lo, hi, False, False):
            raise _Invalid(v)
        return v

    text = "an integer" + ("" if lo is None and hi is None else " " + _range_text(lo, hi, False, False))
    return Check(text + (" or None" if none else ""), convert)


def number(
    lo: Optional[float] = None, hi: Optional[float] = None, *, lo_open: bool = False, hi_open: bool = False
) -> Check:
    """A finite number in the interval (ints are accepted and returned as floats)."""

    def convert(v: Any) -> float:
        if not _is_number(v) or not _in_range(float(v), lo, hi, lo_open, hi_open):
            raise _Invalid(v)
        return float(v)

    rng = _range_text(lo, hi, lo_open, hi_open)
    return Check(rng if lo is not None and hi is not None else f"a number {rng}", convert)


def boolean() -> Check:
    """``True`` or ``False`` (papermill's ``-p augment True`` gives a bool)."""

    def convert(v: Any) -> bool:
        if not isinstance(v, bool):
            raise _Invalid(v)
        return v

    return Check("True or False", convert)


def text() -> Check:
    """Any string."""

    def convert(v: Any) -> str:
        if not isinstance(v, str):
            raise _Invalid(v)
        return v

    return Check("a string", convert)


def one_of(*values: Any, names: Optional[Callable[[], Sequence[Any]]] = None, what: str = "") -> Check:
    """One of ``values`` (or of ``names()``, looked up when checked: data sets, models, experiments)."""

    def choices() -> list:
        return [*values, *(names() if names else [])]

    def convert(v: Any) -> Any:
        if isinstance(v, bool) or v not in choices():
            raise _Invalid(v)
        return v

    shown = ", ".join(repr(c) for c in values)
    if names is not None:
        return _LazyCheck(what, values, names, convert)
    return Check(f"one of {shown}", convert)


class _LazyCheck(Check):
    """A :func:`one_of` check whose names come from the library (listed in the message when it fails)."""

    def __init__(self, what: str, values: Sequence[Any], names: Callable[[], Sequence[Any]], convert: Callable) -> None:
        object.__setattr__(self, "allowed", what)
        object.__setattr__(self, "convert", convert)
        object.__setattr__(self, "_values", tuple(values))
        object.__setattr__(self, "_names", names)

    def __call__(self, name: str, value: Any) -> Any:
        try:
            return self.convert(value)
        except _Invalid as bad:
            raise ParameterError(name, bad.value, self.describe()) from None

    def describe(self) -> str:
        listed = ", ".join(repr(c) for c in [*self._values, *self._names()])  # type: ignore[attr-defined]
        return f"{self.allowed}: one of {listed}"

    def __hash__(self) -> int:  # pragma: no cover - frozen dataclass parent
        return id(self)


def _literal(v: Any) -> Any:
    """papermill passes lists and dicts as text: parse a Python/JSON literal, else keep the text."""
    if isinstance(v, str) and v.strip()[:1] in "[({":
        try:
            return ast.literal_eval(v.strip())
        except (ValueError, SyntaxError):
            try:
                return json.loads(v)
            except ValueError:
                raise _Invalid(v) from None
    return v


def list_of(item: Check, *, empty: bool = False, increasing: bool = False, what: Optional[str] = None) -> Check:
    """A list (or its text, or one bare item) whose items pass ``item``; non-empty unless ``empty``."""

    def convert(v: Any) -> list:
        whole = v
        v = _literal(v)
        if isinstance(v, tuple):
            v = list(v)
        if not isinstance(v, list):
            v = [v]  # one bare value (papermill -p seeds 3) is a one-item list
        if not v and not empty:
            raise _Invalid(whole)
        out = []
        for x in v:
            try:
                out.append(item.convert(x))
            except _Invalid as bad:
                raise _Invalid(bad.value) from None
        if increasing and any(b <= a for a, b in zip(out, out[1:])):
            raise _Invalid(whole)
        return out

    desc = what or (
        f"{'a' if empty else 'a non-empty'} list of values {item.allowed}"
        if item.allowed.startswith("in ")
        else f"{'a' if empty else 'a non-empty'} list of {item.allowed.removeprefix('a ').removeprefix('an ')}s"
    )
    # an item's failure reports the item and the item's rule (``-1 is not in [0, 1]``)
    return _ListCheck(desc, convert, item)


class _ListCheck(Check):
    def __init__(self, allowed: str, convert: Callable, item: Check) -> None:
        object.__setattr__(self, "allowed", allowed)
        object.__setattr__(self, "convert", convert)
        object.__setattr__(self, "_item", item)

    def __call__(self, name: str, value: Any) -> Any:
        try:
            return self.convert(value)
        except _Invalid as bad:
            whole = bad.value is value or (isinstance(value, str) and bad.value == value)
            if not whole:
                try:  # an item failed: report it with the item's rule, names listed where the item lists them
                    self._item(name, bad.value)  # type: ignore[attr-defined]
                except ParameterError as e:
                    raise ParameterError(name, bad.value, e.allowed) from None
            raise ParameterError(name, bad.value, self.allowed) from None

    def __hash__(self) -> int:  # pragma: no cover
        return id(self)


def mapping(keys: Optional[Callable[[], Sequence[str]]] = None, what: str = "a dict") -> Check:
    """A dict (or its JSON/Python text); with ``keys``, only those keys."""

    def convert(v: Any) -> dict:
        v = _literal(v)
        if not isinstance(v, dict) or not all(isinstance(k, str) for k in v):
            raise _Invalid(v)
        if keys is not None and any(k not in keys() for k in v):
            raise _Invalid(v)
        return dict(v)

    return Check(what, convert)


def either(*checks: Check) -> Check:
    """The first of ``checks`` that accepts the value."""

    def convert(v: Any) -> Any:
        for c in checks:
            try:
                return c.convert(v)
            except _Invalid:
                continue
        raise _Invalid(v)

    def phrase(allowed: str) -> str:  # "in [0, 1]" -> "a number in [0, 1]"; "one of 'tune'" -> "'tune'"
        if allowed.startswith("in "):
            return "a number " + allowed
        if allowed.startswith("one of ") and ", " not in allowed:
            return allowed.removeprefix("one of ")
        return allowed

    return Check(" or ".join(phrase(c.allowed) for c in checks), convert)


# ------------------------------------------------------------------------------------------------ names
def _tabular_names() -> list[str]:
    from .data.names import TABULAR_NAMES

    return [*TABULAR_NAMES, "digits"]


def _all_dataset_names() -> list[str]:
    from .data.names import available_datasets

    return available_datasets()


def _model_names() -> list[str]:
    from .models import MODEL_NAMES

    return ["auto", *MODEL_NAMES]


def _experiment_names() -> list[str]:
    from .experiments.named import list_experiments

    return list(list_experiments())


def _experiment_keys() -> list[str]:
    from .experiments.named import ALLOWED_KEYS

    return list(ALLOWED_KEYS)


def _canonical(name: Any) -> Any:
    if not isinstance(name, str):
        return name
    from .data.names import canonical_name

    try:
        return canonical_name(name)
    except Exception:  # an unknown name is reported by the check itself
        return name


def tabular_dataset() -> Check:
    """A tabular data set of :mod:`ccl_lib.data` (scikit-learn's digits included: 64 features)."""
    inner = one_of(names=_tabular_names, what="a tabular data set")
    return _LazyWrap(inner, _canonical)


def dataset() -> Check:
    """Any named data set of :mod:`ccl_lib.data`, or ``imagefolder:<path>``."""
    inner = one_of(names=lambda: [*_all_dataset_names(), "imagefolder:<path>"], what="a data set of ccl_lib.data")

    def pre(v: Any) -> Any:
        return v if isinstance(v, str) and v.lower().startswith("imagefolder:") else _canonical(v)

    return _LazyWrap(inner, pre, passthrough=lambda v: isinstance(v, str) and v.lower().startswith("imagefolder:"))


class _LazyWrap(Check):
    """A lazy name check that first canonicalizes the value (aliases such as ``"texas"``)."""

    def __init__(self, inner: Check, pre: Callable[[Any], Any], passthrough: Optional[Callable] = None) -> None:
        def convert(v: Any) -> Any:
            v2 = pre(v)
            if passthrough is not None and passthrough(v2):
                return v2
            try:
                return inner.convert(v2)
            except _Invalid:
                raise _Invalid(v) from None

        object.__setattr__(self, "allowed", inner.allowed)
        object.__setattr__(self, "convert", convert)
        object.__setattr__(self, "_inner", inner)

    def describe(self) -> str:
        return self._inner.describe()  # type: ignore[attr-defined]

    def __call__(self, name: str, value: Any) -> Any:
        try:
            return self.convert(value)
        except _Invalid as bad:
            try:
                self._inner(name, bad.value)  # type: ignore[attr-defined]
            except ParameterError as e:
                raise ParameterError(name, bad.value, e.allowed) from None
            raise ParameterError(name, bad.value, self.allowed) from None  # pragma: no cover

    def __hash__(self) -> int:  # pragma: no cover
        return id(self)


def model() -> Check:
    """A model name of :func:`ccl_lib.models.build_model`, or ``"auto"``."""
    return one_of(names=_model_names, what="a model of ccl_lib.models")


def experiment(*, empty: bool = False) -> Check:
    """A named experiment (``python -m ccl_lib list``); with ``empty``, also ``""`` (skip that part)."""
    return one_of(*([""] if empty else []), names=_experiment_names, what="a named experiment")


def workers() -> Check:
    """Parallel runs: ``"auto"`` or an integer >= 1."""
    return either(integer(1), one_of("auto"))


SEEDS = list_of(integer(0), what="a non-empty list of integers >= 0")
FRACTION = number(0, 1)
MILESTONES = list_of(integer(1), empty=True, increasing=True, what="a list of increasing epochs >= 1, e.g. [50, 100]")
CONCAVE = one_of("exp", "quadratic")
PART_SIZE = integer(1, none=True)


# ------------------------------------------------------------------------------------------------ schema
@dataclass(frozen=True)
class Parameter:
    """One chapter parameter.

    Attributes:
        default: its default, as in the chapter's ``parameters`` cell.
        check: its allowed values (:class:`Check`).
        meaning: what it means, used where the chapter's cell has no comment above it.
    """

    default: Any
    check: Check
    meaning: str = ""


#: A check of several parameters: ``values -> None`` or ``(name, message after "parameter <name>: ")``.
CrossCheck = Callable[[Mapping[str, Any]], Optional[tuple[str, str]]]


@dataclass(frozen=True)
class ChapterParameters:
    """Every parameter of one chapter, the checks that involve several, and the rerun command.

    Attributes:
        parameters: ``{name: Parameter}`` in the order of the chapter's ``parameters`` cell.
        cross_checks: checks of several parameters (``values -> None`` or ``(name, message)``).
        paper_command: the papermill command for the paper's setting (or a larger one).
        paper_note: what that command costs.
    """

    parameters: dict[str, Parameter]
    cross_checks: tuple[CrossCheck, ...] = ()
    paper_command: str = ""
    paper_note: str = ""


def _is_tabular(name: Any) -> bool:
    return isinstance(name, str) and name in _tabular_names()


def _no_augment_on_tabular(data_key: str, aug_key: str = "augment") -> CrossCheck:
    def check(v: Mapping[str, Any]) -> Optional[tuple[str, str]]:
        names = v[data_key] if isinstance(v[data_key], list) else [v[data_key]]
        tab = [n for n in names if _is_tabular(n)]
        if v.get(aug_key) and tab:
            return aug_key, (
                f"True is not possible with the tabular data set {tab[0]!r} ({data_key}): crop and flip need images; "
                "use False"
            )
        return None

    return check


def _image_model_needs_images(data_key: str, model_key: str = "model") -> CrossCheck:
    def check(v: Mapping[str, Any]) -> Optional[tuple[str, str]]:
        names = v[data_key] if isinstance(v[data_key], list) else [v[data_key]]
        tab = [n for n in names if _is_tabular(n)]
        if v.get(model_key) not in ("auto", "mlp") and tab:
            return model_key, (
                f"{v[model_key]!r} is not possible with the tabular data set {tab[0]!r} ({data_key}): "
                "a convolutional model needs images; use 'mlp' or 'auto'"
            )
        return None

    return check


def _milestones_within(epochs_key: str = "epochs", key: str = "milestones") -> CrossCheck:
    def check(v: Mapping[str, Any]) -> Optional[tuple[str, str]]:
        late = [m for m in v[key] if m >= v[epochs_key]]
        if late:
            return key, f"{v[key]} is not a list of epochs below {epochs_key} = {v[epochs_key]} (drop {late})"
        return None

    return check


def _probabilities(key: str) -> CrossCheck:
    def check(v: Mapping[str, Any]) -> Optional[tuple[str, str]]:
        if abs(sum(v[key]) - 1.0) > 1e-6:
            return key, f"{v[key]} is not a probability vector: its entries sum to {sum(v[key]):g}, not 1"
        return None

    return check


def _something_to_run(v: Mapping[str, Any]) -> Optional[tuple[str, str]]:
    if v["tabular"] == "" and v["image_experiment"] == "":
        return "image_experiment", "'' is not possible with tabular = '' as well: the chapter would have nothing to run"
    return None


_WORKERS = 'parallel runs: an integer, or "auto" (one per GPU, else one per CPU core)'
_STRONG_DEFENSES = one_of("vanilla", "CCEL", "CCQL", "RelaxLoss", "DP-SGD")


#: Every chapter's parameters: ``{chapter stem: ChapterParameters}``.  Defaults equal the chapters'
#: ``parameters`` cells (tested); meanings come from the comments in those cells.
def _recipe(**data: Parameter) -> dict[str, Parameter]:
    """The data-set parameter(s) given, then the recipe parameters chapters 5, 7, 8 and 9 share
    (model, epochs, milestones, augment, part_size, seeds), with the book's defaults."""
    return {
        **data,
        "model": Parameter("auto", model()),
        "epochs": Parameter(30, integer(1)),
        "milestones": Parameter([], MILESTONES),
        "augment": Parameter(False, boolean()),
        "part_size": Parameter(1000, PART_SIZE),
        "seeds": Parameter([0, 1, 2], SEEDS),
    }


CHAPTERS: dict[str, ChapterParameters] = {
    "01_membership_inference": ChapterParameters(
        {
            "dataset": Parameter("location", tabular_dataset()),
            "part_size": Parameter(1000, integer(1)),
            "epochs": Parameter(30, integer(1)),
            "milestones": Parameter([], MILESTONES),
            "model_name": Parameter("mlp", one_of("mlp")),
            "low_fprs": Parameter([0.01, 0.001], list_of(number(0, 1, lo_open=True, hi_open=True))),
            "cpu_threads": Parameter(1, integer(0)),
            "seed": Parameter(0, integer(0), "random seed of the split, the models and the attacks"),
        },
        (_milestones_within(),),
        'papermill 01_membership_inference.ipynb out.ipynb -p part_size 1250 -p epochs 120 -p milestones "[50, 100]"',
    ),
    "02_theory": ChapterParameters(
        {
            "n_samples": Parameter(20_000, integer(100)),
            "n_fixed_mean": Parameter(20, integer(2)),
            "fixed_mean": Parameter(0.8, number(0, 1, lo_open=True, hi_open=True)),
            "n_distributions": Parameter(40, integer(2)),
            "mu_s": Parameter(0.3, number(0)),
            "mu_d": Parameter(1.5, number(0)),
            "sigma_d": Parameter(0.8, number(0, lo_open=True)),
            "fprs": Parameter([0.1, 0.01], list_of(number(0, 1, lo_open=True, hi_open=True))),
            "n_sim": Parameter(10_000, integer(10)),
            "n_repeats": Parameter(20, integer(1)),
            "n_logits": Parameter(2_000, integer(10)),
            "logit_scale": Parameter(5.0, number(0, lo_open=True)),
            "alpha": Parameter(0.5, FRACTION),
            "num_classes": Parameter(10, integer(2)),
            "dirichlet_mu": Parameter(
                [0.7, 0.2, 0.1],
                list_of(number(0, 1, lo_open=True), what="a list of at least two probabilities in (0, 1]"),
            ),
            "n_concentrations": Parameter(13, integer(2)),
            "n_mc": Parameter(50_000, integer(100)),
            "lr_dataset": Parameter("digits", tabular_dataset()),
            "lr_max_examples": Parameter(1_000, integer(10)),
            "lr_n_starts": Parameter(6, integer(1)),
            "lr_l2": Parameter(1e-3, number(0, lo_open=True)),
            "lr_init_scale": Parameter(1.0, number(0, lo_open=True)),
            "lr_concave": Parameter("exp", CONCAVE),
            "seed": Parameter(0, integer(0), "random seed of every simulation"),
        },
        (_probabilities("dirichlet_mu"),),
        "papermill 02_theory.ipynb out.ipynb -p n_samples 1000000 -p n_mc 1000000 -p lr_n_starts 50",
    ),
    "03_anatomy_of_ccl": ChapterParameters(
        {
            "alphas": Parameter([0.2, 0.5, 0.8], list_of(FRACTION)),
            "gamma": Parameter(2.0, number(0)),
            "n_grid": Parameter(400, integer(10)),
            "n_check": Parameter(2048, integer(1)),
            "num_classes": Parameter(10, integer(2)),
            "logit_scale": Parameter(5.0, number(0, lo_open=True)),
            "seed": Parameter(0, integer(0), "random seed of the gradient check"),
        },
        (),
        'papermill 03_anatomy_of_ccl.ipynb out.ipynb -p alphas "[0.1, 0.3, 0.5, 0.7, 0.9]" -p n_check 100000',
    ),
    "04_figure1_loss_variance": ChapterParameters(
        {
            "image_experiment": Parameter("cifar10-cpu", experiment()),
            "image_seeds": Parameter([0], SEEDS),
            "dataset": Parameter("location", tabular_dataset()),
            "model": Parameter("auto", one_of("auto", "mlp")),
            "epochs": Parameter(30, integer(1)),
            "milestones": Parameter([], MILESTONES),
            "part_size": Parameter(1000, PART_SIZE),
            "seeds": Parameter([0, 1, 2], SEEDS),
            "gamma": Parameter(2.0, number(0)),
            "workers": Parameter("auto", workers()),
        },
        (_milestones_within(),),
        "papermill 04_figure1_loss_variance.ipynb out.ipynb -p image_experiment figure1-cifar10 "
        '-p image_seeds "[0, 1, 2]"',
        "the paper's ResNet-34 recipe on CIFAR-10: about an hour per run on one H100-class GPU, six runs",
    ),
    "05_alpha_ablation": ChapterParameters(
        {
            **_recipe(dataset=Parameter("location", dataset())),
            "alphas": Parameter([0.1, 0.3, 0.5, 0.7, 0.9], list_of(FRACTION)),
            "workers": Parameter("auto", workers()),
        },
        (_no_augment_on_tabular("dataset"), _image_model_needs_images("dataset"), _milestones_within()),
        "papermill 05_alpha_ablation.ipynb out.ipynb -p dataset cifar10 -p model resnet34 -p epochs 300 "
        '-p milestones "[150, 225]" -p augment True -p part_size None '
        '-p alphas "[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]" -p seeds "[0, 1, 2]"',
        "19 runs per seed of two ResNet-34 models for 300 epochs: about 10 GPU-hours per seed",
    ),
    "06_convergence": ChapterParameters(
        {
            "image_experiment": Parameter("cifar10-cpu", experiment()),
            "image_seeds": Parameter([0], SEEDS),
            "dataset": Parameter("location", tabular_dataset()),
            "model": Parameter("auto", one_of("auto", "mlp")),
            "epochs": Parameter(30, integer(1)),
            "milestones": Parameter([], MILESTONES),
            "part_size": Parameter(1000, PART_SIZE),
            "lr": Parameter(0.1, number(0, lo_open=True)),
            "seeds": Parameter([0, 1, 2], SEEDS),
            "alpha": Parameter(0.5, FRACTION),
            "tol": Parameter(0.01, number(0, 1, lo_open=True)),
            "workers": Parameter("auto", workers()),
        },
        (_milestones_within(),),
        'papermill 06_convergence.ipynb out.ipynb -p image_experiment figure5-cifar10 -p image_seeds "[0, 1, 2]"',
        "3 runs of two ResNet-34 models for 300 epochs per seed: about 1.5 hours per seed on one H100-class GPU",
    ),
    "07_privacy_utility": ChapterParameters(
        {
            **_recipe(dataset=Parameter("location", dataset())),
            "grid": Parameter("cpu", one_of("cpu", "paper")),
            "alphas": Parameter([0.1, 0.3, 0.5, 0.7, 0.9], list_of(FRACTION)),
            "settings_per_baseline": Parameter(1, one_of(1, 2)),
            "acc_tolerance": Parameter(0.02, FRACTION),
            "ncols": Parameter(3, integer(1, 6)),
            "workers": Parameter("auto", workers()),
        },
        (_no_augment_on_tabular("dataset"), _image_model_needs_images("dataset"), _milestones_within()),
        "papermill 07_privacy_utility.ipynb out.ipynb -p dataset cifar10 -p model resnet34 -p epochs 300 "
        '-p milestones "[150, 225]" -p augment True -p part_size None -p grid paper -p workers auto',
        "68 settings of two models for 300 epochs, times three seeds: three to six GPU-days on one H100-class GPU",
    ),
    "08_table1_p1": ChapterParameters(
        {
            **_recipe(
                datasets=Parameter(["location", "digits"], list_of(dataset(), what="a non-empty list of data sets"))
            ),
            "alpha": Parameter(0.5, FRACTION),
            "gpu_results": Parameter("../results", text()),
            "workers": Parameter("auto", workers()),
        },
        (_no_augment_on_tabular("datasets"), _image_model_needs_images("datasets"), _milestones_within()),
        'papermill 08_table1_p1.ipynb out.ipynb -p datasets \'["texas100", "purchase100"]\' -p epochs 120 '
        '-p milestones "[50, 100]" -p part_size None',
        "the tabular columns: 18 runs, half a day on a CPU; the image columns are GPU work (see the chapter)",
    ),
    "09_appendix_d_focal": ChapterParameters(
        {
            **_recipe(dataset=Parameter("location", dataset())),
            "gamma": Parameter(2.0, number(0)),
            "concave": Parameter("exp", CONCAVE),
            "alphas": Parameter([0.2, 0.6, 0.8], list_of(FRACTION)),
            "workers": Parameter("auto", workers()),
        },
        (_no_augment_on_tabular("dataset"), _image_model_needs_images("dataset"), _milestones_within()),
        "papermill 09_appendix_d_focal.ipynb out.ipynb -p dataset cifar10 -p model resnet34 -p epochs 300 "
        '-p milestones "[150, 225]" -p augment True -p part_size None -p alphas "[0.2, 0.4, 0.6, 0.8]" -p workers auto',
        "5 settings of two ResNet-34 models for 300 epochs, times three seeds: 6-9 hours on one H100-class GPU",
    ),
    "10_strong_attacks": ChapterParameters(
        {
            "tabular": Parameter("location", either(one_of(""), tabular_dataset())),
            "location_size": Parameter(1000, integer(1)),
            "location_epochs": Parameter(20, integer(1)),
            "location_lr": Parameter(0.1, number(0, lo_open=True), "SGD learning rate of the tabular models"),
            "location_batch_size": Parameter(128, integer(1), "SGD batch size of the tabular models"),
            "k": Parameter(4, integer(1)),
            "location_defenses": Parameter(["vanilla", "CCQL", "RelaxLoss", "DP-SGD"], list_of(_STRONG_DEFENSES)),
            "image_experiment": Parameter("cifar10-cpu", experiment(empty=True)),
            "image_set": Parameter({}, mapping(_experiment_keys, "a dict of experiment settings, e.g. {'epochs': 5}")),
            "image_k": Parameter(2, integer(1)),
            "image_defenses": Parameter(["vanilla", "CCQL"], list_of(_STRONG_DEFENSES)),
            "seeds": Parameter([0], SEEDS),
            "attacker": Parameter("matched", one_of("matched", "mismatched")),
            "ccl_alpha": Parameter(0.5, FRACTION),
            "relaxloss_alpha": Parameter(1.0, number(0, lo_open=True)),
            "dp_noise_multiplier": Parameter(1.0, number(0, lo_open=True)),
            "dp_max_grad_norm": Parameter(1.0, number(0, lo_open=True), "DP-SGD clipping norm C"),
            "dp_delta": Parameter(1e-5, number(0, 1, lo_open=True, hi_open=True), "the delta of the reported epsilon"),
            "fixed_variance": Parameter(True, boolean()),
            "rmia_a": Parameter("tune", either(one_of("tune"), FRACTION)),
            "rmia_a_fixed": Parameter(0.3, FRACTION),
            "n_boot": Parameter(1000, integer(10)),
            "level": Parameter(0.95, number(0, 1, lo_open=True, hi_open=True), "coverage of the bootstrap intervals"),
        },
        (_something_to_run,),
        "papermill 10_strong_attacks.ipynb out.ipynb -p k 16 -p image_k 16 -p location_size 1250 "
        '-p seeds "[0, 1, 2]" -p location_defenses \'["vanilla", "CCEL", "CCQL", "RelaxLoss", "DP-SGD"]\' '
        '-p image_defenses \'["vanilla", "CCEL", "CCQL", "RelaxLoss", "DP-SGD"]\'',
        "510 models: most of a day on 2 CPU cores, about an hour on one GPU",
    ),
    "11_privacy_source": ChapterParameters(
        {
            "design": Parameter(
                "ci", one_of("ci", "full"), '"ci": the decisive image arms and all Location arms; "full": every arm'
            ),
            "seeds": Parameter([0, 1, 2], SEEDS, "seeds of every arm"),
            "betas": Parameter(
                [0.01], list_of(number(0, 1, lo_open=True)), "loss scale factors beta (with design full: [0.01, 0.05])"
            ),
            "alpha": Parameter(0.5, FRACTION, "CCEL / CCQL alpha (Eq. 4)"),
            "image_experiment": Parameter("cifar10-cpu", experiment(), "the image setting: a named experiment"),
            "image_overrides": Parameter(
                {},
                mapping(_experiment_keys, "a dict of experiment settings, e.g. {'epochs': 5}"),
                "overrides of that experiment's settings",
            ),
            "tabular_dataset": Parameter("location", tabular_dataset(), "the tabular data set (the MLP)"),
            "tabular_epochs": Parameter(30, integer(1), "training epochs of the tabular arms"),
            "tabular_part_size": Parameter(1000, PART_SIZE, "examples per split part (None: all of the data set)"),
            "workers": Parameter("auto", workers(), _WORKERS),
        },
        (),
        'papermill 11_privacy_source.ipynb out.ipynb -p design full -p seeds "[0, 1, 2]"',
        "every arm on both data sets for beta in {0.01, 0.05} (the chapter states the cost)",
    ),
    "99_scorecard": ChapterParameters(
        {
            "scorecard_dir": Parameter(None, either(one_of(None), text())),
            "verify_report": Parameter("../.cache/ledger-verify.json", text()),
        },
    ),
}


def chapter_parameters(chapter: str) -> ChapterParameters:
    """The declared parameters of ``chapter`` (a notebook stem such as ``"05_alpha_ablation"``)."""
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}; chapters with parameters: {', '.join(CHAPTERS)}")
    return CHAPTERS[chapter]


def check_parameters(chapter: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Check every parameter of ``chapter`` in ``namespace`` (a notebook's ``globals()``).

    Call it in the cell right after the ``parameters`` cell (papermill's injected values
    come between them), before anything is loaded or trained.

    Args:
        chapter: the notebook stem (``"03_anatomy_of_ccl"``); a key of :data:`CHAPTERS`.
        namespace: where the parameters live; a parameter missing from it is an error
            (the parameters cell was not run).

    Returns:
        ``{name: value}`` of every parameter, papermill's text parsed (lists, dicts, data set
        aliases resolved); ``globals().update(...)`` puts them back.

    Raises:
        ParameterError: one line, ``parameter <name>: <value> is not <what is allowed>``.
    """
    spec = chapter_parameters(chapter)
    if not isinstance(namespace, Mapping):
        raise TypeError(f"namespace must be a mapping such as globals(), got {type(namespace).__name__}")
    values: dict[str, Any] = {}
    for name, p in spec.parameters.items():
        if name not in namespace:
            raise ParameterError(name, None, "", detail="missing: run the parameters cell first")
        values[name] = p.check(name, namespace[name])
    for cross in spec.cross_checks:
        bad = cross(values)
        if bad is not None:
            name, message = bad
            raise ParameterError(name, values[name], "", detail=message)
    return values


# ------------------------------------------------------------------------------------------------ parsing
def parse_parameters_cell(source: str) -> list[tuple[str, Any, str]]:
    """``[(name, default, comment)]`` of a parameters cell, in order.

    The comment is the block of ``#`` lines right above the assignment (joined with spaces);
    an assignment right after another one has none.  Defaults are Python literals.

    Args:
        source: the cell's Python source.
    """
    tree = ast.parse(source)
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source + "\n").readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    out = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name = node.target.id
        else:
            raise ValueError(f"a parameters cell holds plain `name = literal` lines, got line {node.lineno}")
        assert node.value is not None
        default = ast.literal_eval(node.value)
        lines: list[str] = []
        line = node.lineno - 1
        while line in comments:
            lines.insert(0, comments[line])
            line -= 1
        out.append((name, default, " ".join(lines)))
    return out


def read_parameters_cell(path: Union[str, Path]) -> list[tuple[str, Any, str]]:
    """:func:`parse_parameters_cell` of the cell tagged ``parameters`` in a py:percent notebook.

    Args:
        path: the notebook's ``.py`` (py:percent) source.
    """
    source = Path(path).read_text(encoding="utf-8")
    cells: list[tuple[str, str]] = []
    current: Optional[list[str]] = None
    tags = ""
    for line in source.splitlines():
        if line.startswith("# %%"):
            if current is not None:
                cells.append((tags, "\n".join(current)))
            current, tags = [], line
        elif current is not None:
            current.append(line)
    if current is not None:
        cells.append((tags, "\n".join(current)))
    found = [src for head, src in cells if "parameters" in head and "[markdown]" not in head]
    if len(found) != 1:
        raise ValueError(f"{path}: {len(found)} cells tagged 'parameters'; a chapter has exactly one")
    return parse_parameters_cell(found[0].strip("\n"))
