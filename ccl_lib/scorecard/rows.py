"""The scorecard's rows: the paper's items (:data:`ITEMS`), one file per recorded row
(:func:`record`, :func:`clear`), read back and Holm-adjusted (:func:`load`, :func:`counts`).
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import re
import time
import warnings
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from ..utils import atomic_write_json
from ..verdicts import (
    INCONCLUSIVE,
    LEGACY_WORDS,
    NO_VERDICT,
    VERDICT_WORDS,
    SeedInterval,
    Verdict,
    _num,
    holm,
)

#: Version of the files :func:`record` writes (checked on reading; format 1 files are still read).
SCORECARD_FORMAT = 2
#: The family-wise error rate Holm's adjustment holds over the scorecard's p-values.
FAMILY_ALPHA = 0.05
#: The verdict of an item no chapter recorded.
NOT_RUN = "not run"

#: The paper's items, in the scorecard's order: key -> what the paper claims.
ITEMS: dict[str, str] = {
    "Thm 3.1": "a more convex loss gives a smaller training-loss variance",
    "Thm 3.2": "a concave term raises the training-loss variance",
    "Prop 4.2": "CCL's gradient is bounded by scaled CE gradients",
    "Prop C.2": "entropy variance shrinks as outputs concentrate",
    "Thm 6.1": "a larger training-loss variance lowers the loss attack's advantage",
    "Sec. 6": "CCL keeps convergence to a global minimum",
    "Fig 1": "focal loss has a smaller training-loss variance than CE",
    "Fig 2/3": "CCL's privacy-utility curves lie below the other defenses'",
    "Fig 4": "smaller alpha: higher loss variance, lower advantage, lower accuracy",
    "Fig 5": "CCL converges about as fast as CE",
    "Fig 6": "a concave term lowers focal loss's advantage (App. D)",
    "Table 1": "CCEL/CCQL (alpha 0.5) have a higher P1 than the undefended model",
    "29.67 % -> 18.40 %": "CCQL lowers the loss attack's advantage vs the best baseline at better accuracy",
    "Scale confound": "CCL's privacy is not the scale factor's regularization (App. E.1; not tested by the paper)",
}

_REQUIRED = {"format": int, "item": str, "chapter": str, "setting": str, "verdict": str, "interval": str,
             "cause": str}  # fmt: skip
_REQUIRED_2 = {"label": str, "effect": str, "paper_effect": str, "excluded": str}
_OPTIONAL_2 = {"n_seeds": int, "p_value": float, "seeds_needed": int}
_COLUMNS = ["item", "claim", "chapter", "setting", "verdict", "label", "effect", "n_seeds", "paper_effect", "p_value",
            "p_holm", "holm", "seeds_needed", "excluded", "cause", "interval"]  # fmt: skip


def _find_root(start: Path) -> Optional[Path]:
    for d in (start, *start.parents):
        if (d / "_toc.yml").is_file():
            return d
    return None


def scorecard_dir(directory: Union[None, str, os.PathLike] = None) -> Optional[Path]:
    """The folder of the scorecard's files: ``directory``, ``$CCL_SCORECARD_DIR``, or
    ``book/generated/scorecard`` of the book above the working directory (``None`` if there is none).

    Args:
        directory: an explicit folder (returned as it is).
    """
    if directory is not None:
        return Path(directory)
    env = os.environ.get("CCL_SCORECARD_DIR")
    if env:
        return Path(env)
    root = _find_root(Path.cwd().resolve())
    return None if root is None else root / "book" / "generated" / "scorecard"


#: Longest slug in a row's file name; a longer one is cut and given a digest of the whole text, so
#: that names stay unique and under file systems' 255-byte limit.
SLUG_MAX = 80


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "x"
    if len(slug) <= SLUG_MAX:
        return slug
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{slug[: SLUG_MAX - 13].rstrip('-')}-{digest}"


def _check_text(name: str, v: Any, allow_empty: bool = False) -> str:
    if not isinstance(v, str) or (not allow_empty and not v.strip()):
        raise ValueError(f"{name} must be a {'' if allow_empty else 'non-empty '}string, got {v!r}")
    return v.strip()


def _word(word: str) -> str:
    word = LEGACY_WORDS.get(word.strip(), word.strip())
    if word not in VERDICT_WORDS:
        raise ValueError(f"verdict word must be one of {list(VERDICT_WORDS)}, got {word!r}")
    return word


def record(
    item: str,
    chapter: str,
    setting: str,
    verdict: Union[Verdict, str],
    interval: Union[SeedInterval, str, None] = None,
    cause: str = "",
    *,
    percent: bool = False,
    digits: int = 3,
    paper_effect: Optional[float] = None,
    p_value: Optional[float] = None,
    excluded: Optional[str] = None,
    directory: Union[None, str, os.PathLike] = None,
) -> dict[str, Any]:
    """Record one scorecard row and write it (atomically) to :func:`scorecard_dir`.

    Args:
        item: a key of :data:`ITEMS` (``"Table 1"``, ``"Fig 4"``, ...).
        chapter: the chapter's file name without extension (``"05_alpha_ablation"``),
            used for the link and for :func:`clear`.
        setting: what was run, in a few words (``"cifar10-cpu, ResNet-8, 3 seeds"``).
        verdict: a :class:`ccl_lib.verdicts.Verdict` (its interval, paper effect, p-value and
            seeds-needed estimate are used where not given here) or one of
            :data:`ccl_lib.verdicts.VERDICT_WORDS` (``"inconclusive at this scale"`` is read as
            ``"inconclusive"``).
        interval: the interval behind the verdict (:class:`SeedInterval`), or a text describing the
            evidence of a check that is no interval (a theorem's bound).
        cause: the likely cause of a difference from the paper ("" when it agrees).
        percent: write the interval and the paper's effect in percent (for rates).
        digits: decimals shown.
        paper_effect: the paper's effect in the interval's units (default: the verdict's).
        p_value: the row's two-sided p-value of "no effect" (default: the verdict's
            :attr:`~ccl_lib.verdicts.Verdict.p_value`, or the t-interval's); rows with one enter
            Holm's family (:func:`load`).
        excluded: why the row is excluded from the verdicts (e.g. "CCEL x0.01 ends at 6 % train
            accuracy: the model did not train"); ``None``: it is not.
        directory: where to write (default :func:`scorecard_dir`).

    Returns:
        the row as a dict.  When no scorecard folder can be found (a chapter run
        outside the book) the row is returned with a warning and nothing is written.
    """
    if item not in ITEMS:
        raise ValueError(f"unknown scorecard item {item!r}; items: {list(ITEMS)}")
    chapter = _check_text("chapter", chapter)
    setting = _check_text("setting", setting)
    cause = _check_text("cause", cause, allow_empty=True)
    excluded_text = "" if excluded is None else _check_text("excluded (the reason a row is excluded)", excluded)
    if not isinstance(percent, (bool, np.bool_)):
        raise ValueError(f"percent must be True or False, got {percent!r}")
    percent = bool(percent)
    if isinstance(digits, bool) or not isinstance(digits, numbers.Integral) or not 0 <= digits <= 12:
        raise ValueError(f"digits must be an integer in [0, 12], got {digits!r}")
    for name, v in (("paper_effect", paper_effect), ("p_value", p_value)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v)):
            raise ValueError(f"{name} must be a finite number or None, got {v!r}")
    if p_value is not None and not 0.0 <= p_value <= 1.0:
        raise ValueError(f"p_value must lie in [0, 1], got {p_value!r}")
    seeds_needed: Optional[int] = None
    if isinstance(verdict, Verdict):
        word = _word(verdict.word)
        label = verdict.label(percent=percent, digits=digits)
        seeds_needed = verdict.seeds_needed
        if interval is None:
            interval = verdict.interval
        if paper_effect is None:
            paper_effect = verdict.paper_effect
        if p_value is None:
            p_value = verdict.p_value
    elif isinstance(verdict, str):
        word = _word(verdict)
        label = word
    else:
        raise ValueError(f"verdict must be a ccl_lib.verdicts.Verdict or a verdict word, got {type(verdict).__name__}")
    if isinstance(interval, SeedInterval):
        effect, n_seeds = interval.format(percent=percent, digits=digits), interval.n
        if p_value is None:
            p_value = interval.p_value()
        if word not in (INCONCLUSIVE, NO_VERDICT) and n_seeds < 3:
            raise ValueError(f"verdict {word!r} rests on {n_seeds} seed(s); a verdict needs at least 3")
    elif isinstance(interval, str) or interval is None:
        effect, n_seeds = (interval or "").strip(), None
    else:
        raise ValueError(
            f"interval must be a ccl_lib.verdicts.SeedInterval, a string or None, got {type(interval).__name__}"
        )
    p = None if p_value is None or not math.isfinite(p_value) else float(p_value)
    unit = " %" if percent else ""
    row = {
        "format": SCORECARD_FORMAT,
        "item": item,
        "chapter": chapter,
        "setting": setting,
        "verdict": word,
        "label": label,
        "effect": effect,
        "interval": f"{effect} ({n_seeds} seeds)" if n_seeds is not None else effect,
        "n_seeds": n_seeds,
        "paper_effect": ""
        if paper_effect is None
        else _num(float(paper_effect), percent=percent, digits=digits, signed=True) + unit,
        "p_value": p,
        "seeds_needed": seeds_needed,
        "excluded": excluded_text,
        "cause": cause,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    folder = scorecard_dir(directory)
    if folder is None:
        warnings.warn("no book found above the working directory (no _toc.yml) and CCL_SCORECARD_DIR is unset: "
                      "the scorecard row was not written", stacklevel=2)  # fmt: skip
        return row
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / f"{_slug(chapter)}__{_slug(item)}__{_slug(setting)}.json", row)
    return row


def clear(chapter: str, *, directory: Union[None, str, os.PathLike] = None) -> int:
    """Remove the rows a chapter recorded before (call it at the chapter's start); returns how many.

    Args:
        chapter: the chapter's name, as given to :func:`record`.
        directory: the scorecard folder (default :func:`scorecard_dir`).
    """
    chapter = _check_text("chapter", chapter)
    folder = scorecard_dir(directory)
    if folder is None or not folder.is_dir():
        return 0
    n = 0
    for f in folder.glob(f"{_slug(chapter)}__*.json"):
        f.unlink()
        n += 1
    return n


def record_all(
    chapter: str, rows: Sequence[Mapping[str, Any]], *, directory: Union[None, str, os.PathLike] = None
) -> list[dict[str, Any]]:
    """A chapter's whole scorecard in one call: :func:`clear` its earlier rows, then :func:`record` each row.

    Args:
        chapter: the chapter's file name without extension (``"05_alpha_ablation"``).
        rows: the keyword arguments of :func:`record` per row (``item``, ``setting``, ``verdict`` and
            any of ``interval``, ``cause``, ``percent``, ``digits``, ``paper_effect``, ``p_value``,
            ``excluded``), e.g. from :func:`ccl_lib.analysis.ablation.alpha_scorecard_rows`.
        directory: the scorecard folder (default :func:`scorecard_dir`).

    Returns:
        the recorded rows, as :func:`record` returns them.
    """
    rows = list(rows)  # every row is checked before the chapter's earlier rows are removed
    for i, row in enumerate(rows):
        missing = {"item", "setting", "verdict"} - set(row)
        if missing or "chapter" in row or "directory" in row:
            raise ValueError(
                f"row {i} must give item, setting and verdict (not chapter or directory), got {sorted(row)}"
            )
    clear(chapter, directory=directory)
    return [record(row["item"], chapter, **{k: v for k, v in row.items() if k != "item"}, directory=directory)
            for row in rows]  # fmt: skip


def _json_object(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; a ``ValueError`` naming ``what`` and the file otherwise."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{what} {path} is unreadable: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{what} {path} must hold a JSON object")
    return obj


def _read(path: Path) -> dict[str, Any]:
    row = _json_object(path, "scorecard file")
    for k, t in _REQUIRED.items():
        if not isinstance(row.get(k), t):
            raise ValueError(f"scorecard file {path}: field {k!r} must be a {t.__name__}, got {row.get(k)!r}")
    if row["format"] not in (1, SCORECARD_FORMAT):
        raise ValueError(
            f"scorecard file {path} has format {row['format']}, expected {SCORECARD_FORMAT}; rerun its chapter"
        )
    if row["item"] not in ITEMS or LEGACY_WORDS.get(row["verdict"], row["verdict"]) not in VERDICT_WORDS:
        raise ValueError(f"scorecard file {path}: unknown item {row['item']!r} or verdict {row['verdict']!r}")
    row["verdict"] = LEGACY_WORDS.get(row["verdict"], row["verdict"])
    if row["format"] == 1:  # before issue 20: the interval text carried the seeds
        m = re.search(r"\((\d+) seeds\)$", row["interval"])
        row.update(label=row["verdict"], effect=row["interval"][: m.start()].strip() if m else row["interval"],
                   n_seeds=int(m.group(1)) if m else None, paper_effect="", p_value=None, seeds_needed=None,
                   excluded="")  # fmt: skip
    for k, t in _REQUIRED_2.items():
        if not isinstance(row.get(k), t):
            raise ValueError(f"scorecard file {path}: field {k!r} must be a {t.__name__}, got {row.get(k)!r}")
    for k, t in _OPTIONAL_2.items():
        v = row.get(k)
        if t is float and isinstance(v, int) and not isinstance(v, bool):
            v = row[k] = float(v)
        if v is not None and (isinstance(v, bool) or not isinstance(v, t)):
            raise ValueError(f"scorecard file {path}: field {k!r} must be a {t.__name__} or null, got {v!r}")
    if row["p_value"] is not None and not 0.0 <= row["p_value"] <= 1.0:
        raise ValueError(f"scorecard file {path}: p_value {row['p_value']!r} is not in [0, 1]")
    return row


def load(directory: Union[None, str, os.PathLike] = None, *, missing: bool = True):
    """All recorded rows as a ``pandas.DataFrame``, in the order of :data:`ITEMS`, with Holm's adjustment.

    Every file is verified (JSON object, fields and types, known item and
    verdict word); a malformed file raises ``ValueError`` naming it.  With
    ``missing=True`` each item that no chapter recorded gets a row whose
    verdict is ``"not run"``.

    The family of comparisons is every row with a ``p_value`` that is not
    ``excluded``; ``p_holm`` is its Holm-adjusted p-value
    (:func:`ccl_lib.verdicts.holm`), and ``holm`` says, for a row whose own test
    rejects "no effect" (``p_value < FAMILY_ALPHA``, i.e. its 95 % t-interval
    excludes zero), whether the rejection ``"survives"`` Holm at the family-wise
    :data:`FAMILY_ALPHA` or ``"does not survive"``; ``""`` for every other row.

    Args:
        directory: the scorecard folder (default :func:`scorecard_dir`).
        missing: add the ``"not run"`` rows, as above.
    """
    import pandas as pd

    folder = scorecard_dir(directory)
    rows = [] if folder is None or not folder.is_dir() else [_read(p) for p in sorted(folder.glob("*.json"))]
    order = {k: i for i, k in enumerate(ITEMS)}
    if missing:
        seen = {r["item"] for r in rows}
        rows += [{"item": k, "chapter": "", "setting": "", "verdict": NOT_RUN, "label": NOT_RUN, "effect": "",
                  "interval": "", "n_seeds": None, "paper_effect": "", "p_value": None, "seeds_needed": None,
                  "excluded": "", "cause": ""} for k in ITEMS if k not in seen]  # fmt: skip
    if not rows:
        return pd.DataFrame(columns=_COLUMNS)
    df = pd.DataFrame(rows)
    df["claim"] = df["item"].map(ITEMS)
    df["_o"] = df["item"].map(order)
    df = df.sort_values(["_o", "chapter", "setting"], kind="stable").drop(columns="_o").reset_index(drop=True)
    for c in ("n_seeds", "seeds_needed"):
        df[c] = df[c].astype("Int64")
    df["p_value"] = df["p_value"].astype(float)
    fam = df["p_value"].notna() & (df["excluded"] == "")
    df["p_holm"] = math.nan
    df.loc[fam, "p_holm"] = holm(df.loc[fam, "p_value"].to_numpy())
    df["holm"] = ""
    rejects = fam & (df["p_value"] < FAMILY_ALPHA)
    df.loc[rejects, "holm"] = [
        "survives" if q <= FAMILY_ALPHA else "does not survive" for q in df.loc[rejects, "p_holm"]
    ]
    return df[_COLUMNS]


def counts(rows) -> dict[str, int]:
    """What the scorecard page says in words, from :func:`load`'s frame.

    Keys: ``rows``, ``items`` (paper items with a row), one per verdict word and
    ``"not run"`` (rows with that word, excluded rows not counted), ``excluded``,
    ``comparisons`` (rows in Holm's family), ``rejections`` (of those, rows whose own
    test rejects "no effect" at 5 %) and ``survive`` (rejections that survive Holm).

    Args:
        rows: the frame :func:`load` returns.
    """
    missing = [c for c in _COLUMNS if c not in getattr(rows, "columns", [])]
    if missing:
        raise ValueError(f"rows must be the frame scorecard.load() returns; missing columns {missing}")
    kept = rows[rows["excluded"] == ""]
    out = {"rows": int(len(rows)), "items": int(rows.loc[rows["verdict"] != NOT_RUN, "item"].nunique())}
    for w in (*VERDICT_WORDS, NOT_RUN):
        out[w] = int((kept["verdict"] == w).sum())
    out["excluded"] = int((rows["excluded"] != "").sum())
    out["comparisons"] = int(rows["p_holm"].notna().sum())
    out["rejections"] = int((rows["holm"] != "").sum())
    out["survive"] = int((rows["holm"] == "survives").sum())
    return out
