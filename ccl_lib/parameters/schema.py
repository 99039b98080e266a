"""What a chapter declares: its parameters (:class:`Parameter`), the checks that involve several
of them (:data:`CrossCheck`), and the rerun command (:class:`ChapterParameters`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from .checks import Check
from .names import _tabular_names


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
