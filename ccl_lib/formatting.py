"""Number formatting for the book: one table formatter and one percentage format.

Every table a chapter shows goes through :func:`format_table`, so that the book has one
number style: fractions the text quotes as percentages (accuracy, advantage, TPR) print
as ``29.7 %``, other floats with a fixed number of significant digits, and no ``-0.000``.
Inline numbers in prose use :func:`pct` and :func:`signed` (e.g. through myst-nb's ``glue``).
:func:`narrow_table` is :func:`format_table` for tables that must fit the book's text column
(about 760 px): units in the headers instead of every cell, settings shared by every row moved
to the caption, long headers shortened.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Mapping, Optional, Sequence

__all__ = [
    "PERCENT_COLUMNS",
    "fmt_number",
    "format_table",
    "is_prose",
    "narrow_table",
    "pct",
    "percent_columns",
    "ranges",
    "signed",
]

#: Column names (or patterns) that hold fractions the text reads as percentages.
PERCENT_COLUMNS: tuple[str, ...] = (
    "test_acc", "train_acc", "final_test_acc", "best_test_acc", "final_train_acc", "accuracy", "reference_acc",
    "advantage", "advantage_oracle", "max_advantage", "balanced_accuracy", "tpr@0.1%", "tpr@1%", "fpr", "tpr",
)  # fmt: skip
_PERCENT_PATTERN = re.compile(r"(^|_)(acc|accuracy|advantage|tpr|fpr)($|_|@)")


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def pct(x: Optional[float], digits: int = 1) -> str:
    """A fraction as a percentage: ``0.2967 -> "29.7 %"``; NaN or ``None`` -> ``"n/a"``.

    Args:
        x: the fraction (1.0 is 100 %).
        digits: digits after the decimal point (>= 0).
    """
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise ValueError(f"digits must be a non-negative integer, got {digits!r}")
    if x is None or not _finite(x):
        return "n/a"
    text = f"{100 * float(x):.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return f"{text} %"


def signed(x: float, digits: int = 3) -> str:
    """A difference with its sign: ``+0.012``, ``-0.006``; a value that rounds to zero is ``0.000``.

    Args:
        x: the number.
        digits: digits after the decimal point (>= 0).
    """
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise ValueError(f"digits must be a non-negative integer, got {digits!r}")
    if not _finite(x):
        return "n/a"
    text = f"{float(x):+.{digits}f}"
    return text[1:] if float(text) == 0 else text


def fmt_number(x: Any, precision: int = 3) -> str:
    """One float in the book's style: ``precision`` significant digits without trailing zeros,
    plain notation between 1e-3 and 1e5 (``0.0105``, ``12.3``, ``0.2``), scientific outside
    (``8.06e-05``), integers as integers, no ``-0``; NaN -> ``"--"``.  Non-numbers are returned as ``str(x)``.

    Args:
        x: the value.
        precision: significant digits (>= 1).
    """
    if isinstance(precision, bool) or not isinstance(precision, int) or precision < 1:
        raise ValueError(f"precision must be a positive integer, got {precision!r}")
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int):
        return f"{x:d}"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "--"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == int(v) and abs(v) < 1e15 and float(f"{v:.{precision}g}") == v and abs(v) >= 1:
        return f"{int(v):d}"
    if v == 0:
        return "0"
    a = abs(v)
    if 1e-3 <= a < 1e5:
        digits = max(0, precision - 1 - int(math.floor(math.log10(a))))
        text = f"{v:.{digits}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    else:
        text = f"{v:.{precision - 1}e}"
    return text.lstrip("-") if float(text) == 0 else text


def percent_columns(columns: Iterable[Any]) -> list:
    """The columns among ``columns`` that hold fractions read as percentages (accuracy,
    advantage, TPR/FPR: :data:`PERCENT_COLUMNS` and names containing those words).
    A MultiIndex column is matched on any of its levels."""
    out = []
    for c in columns:
        names = c if isinstance(c, tuple) else (c,)
        if any(str(n) in PERCENT_COLUMNS or _PERCENT_PATTERN.search(str(n)) for n in names):
            out.append(c)
    return out


def _check_columns(df: Any, what: str, cols: list) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{what} names columns {missing} that the table lacks; it has {list(df.columns)}")


def _checked_table(caller: str, df: Any, percent: Optional[Iterable[Any]], precision: int, percent_digits: int):
    """``(frame, percentage columns)`` of a table given to ``caller``, every argument validated."""
    import pandas as pd

    if isinstance(df, pd.Series):
        df = df.to_frame()
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{caller} needs a pandas DataFrame or Series, got {type(df).__name__}")
    cols = percent_columns(df.columns) if percent is None else list(percent)
    _check_columns(df, "percent", cols)
    fmt_number(0.0, precision)  # validates precision
    pct(0.0, percent_digits)  # validates percent_digits
    return df, cols


def format_table(
    df: Any,
    percent: Optional[Sequence[Any]] = None,
    precision: int = 3,
    *,
    percent_digits: int = 1,
    caption: Optional[str] = None,
    hide_index: bool = False,
):
    """The one table formatter of the book: a pandas ``Styler`` of ``df`` with its numbers formatted.

    Args:
        df: a ``pandas.DataFrame`` (or a Series, shown as one column).
        percent: the columns shown as percentages (fractions in [0, 1] -> ``29.7 %``); ``None``
            picks them by name (:func:`percent_columns`: accuracies, advantages, TPR/FPR), ``[]``
            shows none.
        precision: significant digits of the other float columns (:func:`fmt_number`).
        percent_digits: digits after the decimal point of percentages.
        caption: an optional caption above the table.
        hide_index: leave the index out (for frames whose index is a plain row number).

    Returns:
        a ``pandas.io.formats.style.Styler``; it renders as HTML in the book, and
        ``.data`` is the unformatted frame.  Cells of prose (:func:`is_prose`) carry the class
        ``wrap``: the book's stylesheet lets them wrap while numbers stay on one line.
    """
    import pandas as pd

    df, cols = _checked_table("format_table", df, percent, precision, percent_digits)
    formats: dict[Any, Any] = {}
    for c in df.columns:
        if c in cols:
            formats[c] = lambda v, d=percent_digits: pct(v, d) if _finite(v) else "--"
        elif pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]):
            formats[c] = lambda v, p=precision: fmt_number(v, p)
    styler = df.style.format(formats)
    prose = _prose_cells(df)
    if prose is not None:
        styler = styler.set_td_classes(prose)
    if isinstance(df.index, pd.MultiIndex) or pd.api.types.is_float_dtype(df.index):
        styler = styler.format_index(lambda v, p=precision: fmt_number(v, p) if isinstance(v, float) else str(v))
    if caption:
        styler = styler.set_caption(caption)
    if hide_index:
        styler = styler.hide(axis="index")
    return styler


def narrow_table(
    df: Any,
    *,
    caption: Optional[str] = None,
    rename: Optional[Mapping[Any, str]] = None,
    percent: Optional[Sequence[Any]] = None,
    keep: Sequence[Any] = (),
    intervals: Sequence[Any] = (),
    precision: int = 3,
    percent_digits: int = 1,
    hide_index: bool = False,
):
    """:func:`format_table` for the text column: fewer and narrower columns, the same numbers.

    * **units in the headers**: a percentage column ``test_acc`` becomes ``test_acc (%)`` with
      cells ``29.7`` instead of ``29.7 %``;
    * **shared settings in the caption**: a column whose value is the same in every row (e.g.
      ``epochs = 30``, ``dataset = location``) is left out and named once in the caption, as
      ``epochs 30; dataset location``, after ``caption`` (a true/false value as ``yes``/``no``; an empty
      one is only left out); so is a named level of a row MultiIndex with one value (one level always stays);
    * **short headers**: ``rename`` maps a column to its header (e.g. ``{"advantage_oracle": "oracle"}``);
      the caption keeps the meaning the text gives;
    * **one column per interval**: each column ``c`` of ``intervals`` and its bounds ``c_low``, ``c_high``
      (e.g. a 95 % t-interval over seeds, :func:`ccl_lib.stats.t_interval`) become one column
      ``c`` with cells ``29.7 [27.1, 32.3]``; the caption says what the brackets hold.

    Args:
        df: a ``pandas.DataFrame`` (or a Series).
        caption: text before the shared settings in the caption.
        rename: ``{column: header}`` for the shown columns.
        percent: the percentage columns (``None``: by name, :func:`percent_columns`; ``[]``: none).
        keep: columns kept even when constant.
        intervals: columns shown with their ``_low`` and ``_high`` bounds as ``estimate [low, high]``.
        precision: significant digits of the other floats (:func:`fmt_number`).
        percent_digits: digits after the decimal point of percentages.
        hide_index: leave the index out.

    Returns:
        a ``pandas.io.formats.style.Styler``; ``.data`` is the shown (renamed, unformatted) frame.
    """
    import pandas as pd

    if isinstance(df, pd.Series):
        df = df.to_frame()
    if isinstance(df, pd.DataFrame):
        bounds = [f"{c}_{end}" for c in intervals for end in ("low", "high")]
        for what, cols in (
            ("keep", list(keep)),
            ("rename", list(rename or {})),
            ("intervals", list(intervals) + bounds),
        ):
            _check_columns(df, what, cols)
    df, pcols = _checked_table("narrow_table", df, percent, precision, percent_digits)
    if intervals:
        df, pcols = _merge_intervals(df, list(intervals), pcols, precision, percent_digits)
        note = "[low, high]: 95 % interval"
        caption = f"{caption}; {note}" if caption else note
    shared = []
    levels: list[tuple[Any, Any]] = []
    if len(df) > 1 and isinstance(df.index, pd.MultiIndex):
        for i, name in enumerate(df.index.names):
            values = df.index.get_level_values(i)
            if name is not None and len(levels) < df.index.nlevels - 1 and values.nunique(dropna=False) == 1:
                levels.append((name, values[0]))
        df = df.droplevel([n for n, _ in levels]) if levels else df
    if len(df) > 1:
        for c in df.columns:
            if c in keep:
                continue
            values = df[c].tolist()
            if all(_same(v, values[0]) for v in values[1:]):
                shared.append(c)
    shown = df.drop(columns=shared)
    as_pct = [c for c in pcols if c not in intervals]

    def setting(c: Any) -> str:
        v = df[c].iloc[0]
        if isinstance(v, bool) or getattr(getattr(v, "dtype", None), "kind", "") == "b":
            return f"{c} {'yes' if v else 'no'}"
        return f"{c} {pct(v, percent_digits) if c in as_pct else fmt_number(v, precision)}"

    empty = [c for c in shared if df[c].iloc[0] is None or (isinstance(df[c].iloc[0], str) and not df[c].iloc[0])]
    settings = "; ".join(
        [f"{n} {fmt_number(v, precision)}" for n, v in levels] + [setting(c) for c in shared if c not in empty]
    )
    headers = {c: (rename or {}).get(c, str(c)) + (" (%)" if c in pcols else "") for c in shown.columns}
    shown = shown.rename(columns=headers)
    styler = format_table(
        shown,
        percent=[],
        precision=precision,
        caption=" ".join(x for x in (caption, f"({settings})" if settings and caption else settings) if x) or None,
        hide_index=hide_index,
    )
    fmt = {
        headers[c]: (lambda v, d=percent_digits: pct(v, d).removesuffix(" %") if _finite(v) else "--")
        for c in pcols
        if c in headers and c not in intervals
    }
    return styler.format(fmt, subset=list(fmt)) if fmt else styler  # subset: the other formats stay


_WORD = re.compile(r"[^\W\d_]{3,}")


def is_prose(value: Any) -> bool:
    """Whether a table cell is prose that may wrap: a string of at least 18 characters with at least
    two words of three or more letters (``"Early stopping, epoch 20"``, ``"inconclusive: about 9 seeds
    would decide it"``), not a number or an interval (``"3.1 % [2.4, 3.9]"``).

    Args:
        value: the cell's value.
    """
    return isinstance(value, str) and len(value) >= 18 and len(_WORD.findall(value)) >= 2


def _prose_cells(df: Any) -> Any:
    """A frame of td classes (``"wrap"`` on prose cells) for ``Styler.set_td_classes``, or ``None``."""
    import pandas as pd

    if not (df.index.is_unique and df.columns.is_unique):
        return None
    text = [c for c in df.columns if pd.api.types.is_object_dtype(df[c]) or pd.api.types.is_string_dtype(df[c])]
    if not text:
        return None
    classes = pd.DataFrame("", index=df.index, columns=df.columns)
    for c in text:
        classes[c] = ["wrap" if is_prose(v) else "" for v in df[c]]
    return classes if (classes == "wrap").any().any() else None


def _merge_intervals(df: Any, cols: list, pcols: list, precision: int, percent_digits: int) -> tuple[Any, list]:
    """``df`` with each column of ``cols`` and its ``_low``/``_high`` bounds as one text column."""
    out = df.copy()
    bounds = []
    for c in cols:
        is_pct = c in pcols

        def num(v: Any, is_pct: bool = is_pct) -> str:
            if not _finite(v):
                return "--"
            return pct(v, percent_digits).removesuffix(" %") if is_pct else fmt_number(v, precision)

        lo, hi = out[f"{c}_low"], out[f"{c}_high"]
        out[c] = [
            num(m) + (f" [{num(a)}, {num(b)}]" if _finite(a) and _finite(b) else "") for m, a, b in zip(out[c], lo, hi)
        ]
        bounds += [f"{c}_low", f"{c}_high"]
    return out.drop(columns=bounds), [c for c in pcols if c not in bounds]


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN (a column of NaNs is constant)."""
    if _finite(a) or _finite(b):
        return a == b
    try:
        return (math.isnan(float(a)) and math.isnan(float(b))) or a == b
    except (TypeError, ValueError):
        return bool(a == b)


def ranges(values: Iterable[int]) -> str:
    """Integers as ranges: ``[1, 2, 3, 7, 9, 10] -> "1-3, 7, 9-10"``; none -> ``"none"``.

    Args:
        values: integers in any order (e.g. the epochs where one curve lies below another).
    """
    e = sorted(int(x) for x in values)
    if not e:
        return "none"
    out: list[str] = []
    start = prev = e[0]
    for x in e[1:]:
        if x == prev + 1:
            prev = x
            continue
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = x
    out.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(out)
