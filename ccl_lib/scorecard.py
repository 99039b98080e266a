"""The reproduction scorecard: one row per paper item, filled by the executed chapters.

Each chapter of the book that tests a claim of Liu et al. (ICML 2024) ends by
calling :func:`record` with the paper item it tested (:data:`ITEMS`), the
setting it ran, the verdict (:class:`ccl_lib.verdicts.Verdict`, which carries
its interval) and the likely cause of any difference.  :func:`record` writes
one small JSON file per (chapter, item, setting) under the scorecard folder
(:func:`scorecard_dir`: ``book/generated/scorecard`` of the book being built),
atomically; the scorecard page, executed after the chapters, reads them back
with :func:`load` (every file verified) and shows :func:`html_table`.  No
cell of the scorecard is typed by hand: a chapter that did not run leaves its
items "not run".

The folder is ``$CCL_SCORECARD_DIR`` when set, else ``book/generated/scorecard``
under the first folder above the working directory that holds the book's
``_toc.yml`` (papermill runs the chapters from ``notebooks/``).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import warnings
from pathlib import Path
from typing import Any, Optional, Union

from .utils import atomic_write_json
from .verdicts import INCONCLUSIVE, VERDICT_WORDS, SeedInterval, Verdict

__all__ = [
    "ITEMS",
    "SCORECARD_FORMAT",
    "clear",
    "html_table",
    "load",
    "markdown_table",
    "record",
    "scorecard_dir",
    "table",
]

#: Version of the files :func:`record` writes (checked on reading).
SCORECARD_FORMAT = 1

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


def _find_root(start: Path) -> Optional[Path]:
    for d in (start, *start.parents):
        if (d / "_toc.yml").is_file():
            return d
    return None


def scorecard_dir(directory: Union[None, str, os.PathLike] = None) -> Optional[Path]:
    """The folder of the scorecard's files: ``directory``, ``$CCL_SCORECARD_DIR``, or
    ``book/generated/scorecard`` of the book above the working directory (``None`` if there is none)."""
    if directory is not None:
        return Path(directory)
    env = os.environ.get("CCL_SCORECARD_DIR")
    if env:
        return Path(env)
    root = _find_root(Path.cwd().resolve())
    return None if root is None else root / "book" / "generated" / "scorecard"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "x"


def _check_text(name: str, v: Any, allow_empty: bool = False) -> str:
    if not isinstance(v, str) or (not allow_empty and not v.strip()):
        raise ValueError(f"{name} must be a {'' if allow_empty else 'non-empty '}string, got {v!r}")
    return v.strip()


def _interval_text(interval: Any, percent: bool, digits: int) -> str:
    if interval is None:
        return ""
    if isinstance(interval, SeedInterval):
        return f"{interval.format(percent=percent, digits=digits)} ({interval.n} seeds)"
    if isinstance(interval, str):
        return interval.strip()
    raise ValueError(
        f"interval must be a ccl_lib.verdicts.SeedInterval, a string or None, got {type(interval).__name__}"
    )


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
    directory: Union[None, str, os.PathLike] = None,
) -> dict[str, Any]:
    """Record one scorecard row and write it (atomically) to :func:`scorecard_dir`.

    Args:
        item: a key of :data:`ITEMS` (``"Table 1"``, ``"Fig 4"``, ...).
        chapter: the chapter's file name without extension (``"05_alpha_ablation"``),
            used for the link and for :func:`clear`.
        setting: what was run, in a few words (``"cifar10-cpu, ResNet-8, 3 seeds"``).
        verdict: a :class:`ccl_lib.verdicts.Verdict` (its interval is used when
            ``interval`` is not given) or one of :data:`ccl_lib.verdicts.VERDICT_WORDS`.
        interval: the interval behind the verdict (:class:`SeedInterval` or text).
        cause: the likely cause of a difference from the paper ("" when it agrees).
        percent, digits: how the interval is written.
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
    if isinstance(verdict, Verdict):
        word = verdict.word
        if interval is None:
            interval = verdict.interval
    elif isinstance(verdict, str):
        word = verdict.strip()
    else:
        raise ValueError(f"verdict must be a ccl_lib.verdicts.Verdict or a verdict word, got {type(verdict).__name__}")
    if word not in VERDICT_WORDS:
        raise ValueError(f"verdict word must be one of {list(VERDICT_WORDS)}, got {word!r}")
    if isinstance(interval, SeedInterval) and word != INCONCLUSIVE and interval.n < 3:
        raise ValueError(f"verdict {word!r} rests on {interval.n} seed(s); a verdict needs at least 3")
    row = {
        "format": SCORECARD_FORMAT,
        "item": item,
        "chapter": chapter,
        "setting": setting,
        "verdict": word,
        "interval": _interval_text(interval, percent, digits),
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


def _read(path: Path) -> dict[str, Any]:
    try:
        row = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"scorecard file {path} is unreadable: {exc}") from None
    if not isinstance(row, dict):
        raise ValueError(f"scorecard file {path} must hold a JSON object")
    for k, t in _REQUIRED.items():
        if not isinstance(row.get(k), t):
            raise ValueError(f"scorecard file {path}: field {k!r} must be a {t.__name__}, got {row.get(k)!r}")
    if row["format"] != SCORECARD_FORMAT:
        raise ValueError(
            f"scorecard file {path} has format {row['format']}, expected {SCORECARD_FORMAT}; rerun its chapter"
        )
    if row["item"] not in ITEMS or row["verdict"] not in VERDICT_WORDS:
        raise ValueError(f"scorecard file {path}: unknown item {row['item']!r} or verdict {row['verdict']!r}")
    return row


def load(directory: Union[None, str, os.PathLike] = None, *, missing: bool = True):
    """All recorded rows as a ``pandas.DataFrame``, in the order of :data:`ITEMS`.

    Every file is verified (JSON object, fields and types, known item and
    verdict word); a malformed file raises ``ValueError`` naming it.  With
    ``missing=True`` each item that no chapter recorded gets a row whose
    verdict is ``"not run"``.

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
        rows += [{"item": k, "chapter": "", "setting": "", "verdict": "not run", "interval": "", "cause": ""}
                 for k in ITEMS if k not in seen]  # fmt: skip
    cols = ["item", "claim", "chapter", "setting", "verdict", "interval", "cause"]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows)
    df["claim"] = df["item"].map(ITEMS)
    df["_o"] = df["item"].map(order)
    df = df.sort_values(["_o", "chapter", "setting"], kind="stable").drop(columns="_o").reset_index(drop=True)
    return df[cols]


def table(directory: Union[None, str, os.PathLike] = None):
    """:func:`load` with the scorecard page's column titles.

    Args:
        directory: the scorecard folder (default :func:`scorecard_dir`).
    """
    df = load(directory)
    return df.rename(columns={
        "item": "Paper item", "claim": "Claim", "chapter": "Chapter", "setting": "Setting", "verdict": "Verdict",
        "interval": "Interval (95 %)", "cause": "Likely cause",
    })  # fmt: skip


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v).replace("|", "\\|").replace("\n", " ")


def markdown_table(directory: Union[None, str, os.PathLike] = None, *, link: bool = True) -> str:
    """The scorecard as a Markdown table (display it with ``IPython.display.Markdown``).

    With ``link=True`` the chapter cell is a MyST ``{doc}`` link to the chapter's
    page, relative to the scorecard page: put the scorecard notebook next to the
    chapters (``book/generated/``) and execute it after them.

    Args:
        directory: the scorecard folder (default :func:`scorecard_dir`).
        link: link each chapter cell to its page, as above.
    """
    df = table(directory)
    head = list(df.columns)
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for rec in df.to_dict("records"):
        cells = [_cell(rec[c]) for c in head]
        ch = rec["Chapter"]
        if link and ch:
            cells[head.index("Chapter")] = f"{{doc}}`{_cell(ch)}`"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def html_table(directory: Union[None, str, os.PathLike] = None, *, link: bool = True) -> str:
    """The scorecard as an HTML table (display it with ``IPython.display.HTML``).

    Works in the Jupyter Book build as it is (myst-nb renders ``text/markdown``
    outputs as CommonMark, without tables or roles, unless
    ``nb_render_markdown_format`` is changed).  With ``link=True`` the chapter
    cell links to ``<chapter>.html``, relative to the scorecard page: put the
    scorecard notebook next to the chapters (``book/generated/``) and execute
    it after them.

    Args:
        directory: the scorecard folder (default :func:`scorecard_dir`).
        link: link each chapter cell to its page, as above.
    """
    import html

    df = table(directory)
    head = list(df.columns)
    out = ['<table class="table scorecard">', "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head)
           + "</tr></thead>", "<tbody>"]  # fmt: skip
    for rec in df.to_dict("records"):
        cells = []
        for c in head:
            text = html.escape(_cell(rec[c]).replace("\\|", "|"))
            if c == "Chapter" and link and text:
                text = f'<a href="{html.escape(str(rec[c]), quote=True)}.html">{text}</a>'
            cells.append(f"<td>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)
