"""The checks of one parameter's value (:class:`Check` and its builders) and the one-line
:class:`ParameterError` they raise.
"""

from __future__ import annotations

import ast
import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence


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
