"""The scorecard page's tables: every field (:func:`table`), Markdown (:func:`markdown_table`) and the
grouped HTML table that fits the book's column (:func:`html_table`); its numbers in words
(:func:`page_findings`) and its list of excluded rows (:func:`excluded_html`).
"""

from __future__ import annotations

import html
import math
import os
from typing import Any, Optional, Union

from .rows import _COLUMNS, FAMILY_ALPHA, ITEMS, _slug, counts, load
from .verify import verify_text

#: Glue names of :func:`page_findings` for the verdict words of :func:`counts` (``sc_n_<name>``).
_WORD_NAMES = {"agrees": "agrees", "opposite": "opposite", "smaller than the paper's": "smaller",
               "inconclusive": "inconclusive", "not reproduced": "not", "lower": "lower", "higher": "higher",
               "no verdict": "noverdict", "not run": "notrun"}  # fmt: skip


def page_findings(rows, verify_report: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """What the scorecard page says in words, by name (glue them with ``glue_findings("sc", ...)``).

    ``n_rows``, ``n_items``, one ``n_<word>`` per verdict word (``n_agrees``, ``n_opposite``,
    ``n_smaller``, ``n_inconclusive``, ``n_not``, ``n_lower``, ``n_higher``, ``n_noverdict``,
    ``n_notrun``; excluded rows not counted), ``n_excluded``, Holm's family (``n_comparisons``,
    ``n_rejections``, ``n_survive``, see :func:`counts`), ``alpha`` (the family-wise error rate,
    ``"5 %"``) and ``verify`` (:func:`~ccl_lib.scorecard.verify_text` of the ledger-verify report).

    Args:
        rows: the frame :func:`load` returns.
        verify_report: the report of :func:`~ccl_lib.scorecard.read_verify_report`, or ``None``.
    """
    n = counts(rows)
    out: dict[str, Any] = {"n_rows": n["rows"], "n_items": n["items"]}
    out.update({f"n_{name}": n[word] for word, name in _WORD_NAMES.items()})
    out.update({f"n_{k}": n[k] for k in ("excluded", "comparisons", "rejections", "survive")})
    out["alpha"] = f"{100 * FAMILY_ALPHA:g} %"
    out["verify"] = verify_text(verify_report)
    return out


def excluded_html(rows, *, link: bool = True) -> str:
    """The excluded rows as an HTML list: item, setting, chapter (a link) and the reason (issue 20 item 5).

    Args:
        rows: the frame :func:`load` returns.
        link: link each chapter to ``<chapter>.html`` (the scorecard page sits beside the chapters).
    """
    missing = [c for c in _COLUMNS if c not in getattr(rows, "columns", [])]
    if missing:
        raise ValueError(f"rows must be the frame scorecard.load() returns; missing columns {missing}")
    esc = html.escape
    ex = rows[rows["excluded"] != ""]
    if not len(ex):
        return "<p>No row is excluded in this build.</p>"
    items = []
    for r in ex.itertuples():
        ch = f'<a href="{esc(r.chapter, quote=True)}.html">{esc(r.chapter)}</a>' if link else esc(r.chapter)
        items.append(f"<li><strong>{esc(r.item)}</strong>, {esc(r.setting)} ({ch}): {esc(r.excluded)}</li>")
    return f"<ul>{''.join(items)}</ul>"


def table(directory: Union[None, str, os.PathLike] = None):
    """:func:`load` with readable column titles (every field, one row per recorded row).

    Args:
        directory: the scorecard folder (default :func:`scorecard_dir`).
    """
    df = load(directory)
    return df.rename(columns={
        "item": "Paper item", "claim": "Claim", "chapter": "Chapter", "setting": "Setting", "verdict": "Word",
        "label": "Verdict", "effect": "Effect (95 %)", "n_seeds": "Seeds", "paper_effect": "Paper's effect",
        "p_value": "p", "p_holm": "Holm p", "holm": "Holm (FWER 5 %)", "seeds_needed": "Seeds to decide",
        "excluded": "Excluded because", "cause": "Likely cause", "interval": "Interval (95 %)",
    })  # fmt: skip


def _cell(v: Any) -> str:
    import pandas as pd

    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def markdown_table(directory: Union[None, str, os.PathLike] = None, *, link: bool = True) -> str:
    """The scorecard as a Markdown table, one line per row (display it with ``IPython.display.Markdown``).

    Columns: paper item, verdict, effect (95 %), seeds, paper's effect, Holm, setting, chapter,
    likely cause.  With ``link=True`` the chapter cell is a MyST ``{doc}`` link to the chapter's
    page, relative to the scorecard page: put the scorecard notebook next to the
    chapters (``book/generated/``) and execute it after them.

    Args:
        directory: the scorecard folder (default :func:`scorecard_dir`).
        link: link each chapter cell to its page, as above.
    """
    df = table(directory)
    head = ["Paper item", "Verdict", "Effect (95 %)", "Seeds", "Paper's effect", "Holm (FWER 5 %)", "Setting",
            "Chapter", "Excluded because", "Likely cause"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for rec in df.to_dict("records"):
        cells = [_cell(rec[c]) for c in head]
        ch = rec["Chapter"]
        if link and ch:
            cells[head.index("Chapter")] = f"{{doc}}`{_cell(ch)}`"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: The scorecard table's own style: it fits the content column (no sideways scrolling) and
#: overrides the book's ``white-space: nowrap`` for output tables (book/_static/custom.css).
_STYLE = """<style>
.bd-article .cell_output table.scorecard, table.scorecard { width: 100%; max-width: 100%; table-layout: fixed;
  border-collapse: collapse; white-space: normal; font-size: 0.85rem; margin: 0.5rem 0; }
table.scorecard th, table.scorecard td, .bd-article .cell_output table.scorecard td,
.bd-article .cell_output table.scorecard th { white-space: normal; overflow-wrap: break-word;
  vertical-align: top; text-align: left; padding: 0.3rem 0.45rem; }
table.scorecard col.sc-c-effect { width: 27%; } table.scorecard col.sc-c-seeds { width: 4.2rem; }
table.scorecard col.sc-c-holm { width: 8.6rem; }
.bd-article .cell_output table.scorecard thead th, table.scorecard thead th { white-space: nowrap; }
.bd-article table.scorecard tbody tr.sc-row, table.scorecard tbody tr.sc-row { background-color: transparent; }
.bd-article table.scorecard tbody tr.sc-excluded, table.scorecard tbody tr.sc-excluded {
  background-color: var(--pst-color-surface, #f6f6f6); }
table.scorecard thead th { border-bottom: 2px solid #999; }
.bd-article table.scorecard tbody tr.sc-item, table.scorecard tbody tr.sc-item {
  background-color: var(--pst-color-surface, #f0f2f5); }
table.scorecard tr.sc-item th { border-top: 1px solid #bbb; font-weight: normal;
  padding-top: 0.45rem; }
table.scorecard .sc-key { font-weight: 700; margin-right: 0.4rem; }
table.scorecard tr.sc-row td { border-top: 1px solid #e3e3e3; }
table.scorecard .sc-word { font-weight: 700; }
table.scorecard .sc-sub { font-size: 0.78rem; color: var(--pst-color-text-muted, #555); margin-top: 0.1rem; }
table.scorecard details { font-size: 0.78rem; color: var(--pst-color-text-muted, #555); }
table.scorecard details summary { cursor: pointer; }
table.scorecard .sc-num { font-variant-numeric: tabular-nums; }
table.scorecard .sc-w-agrees { color: var(--pst-color-success, #1a7f37); }
table.scorecard .sc-w-opposite, table.scorecard .sc-w-not-reproduced { color: var(--pst-color-danger, #b3261e); }
table.scorecard .sc-w-smaller-than-the-paper-s { color: var(--pst-color-warning, #9a6700); }
table.scorecard .sc-w-inconclusive, table.scorecard .sc-w-no-verdict, table.scorecard .sc-w-not-run,
table.scorecard .sc-w-excluded { color: var(--pst-color-text-muted, #666); }
</style>"""


def html_table(directory: Union[None, str, os.PathLike] = None, *, link: bool = True, rows=None) -> str:
    """The scorecard as an HTML table grouped by paper item (display it with ``IPython.display.HTML``).

    One ``<tbody>`` per paper item: a heading row with the item and its claim
    (once), then one row per recorded row with four columns -- the verdict (its
    label in bold, the setting and chapter in a smaller line below, the likely
    cause in a ``<details>`` element), the paired effect with its 95 % interval
    and the paper's effect below it, the number of seeds, and whether the row
    survives Holm's adjustment (:func:`load`).  Excluded rows read "excluded"
    with their reason and the verdict they would have had.  The table carries
    its own style (fixed layout, 100 % wide, cells wrap), so it fits the content
    column without sideways scrolling.

    Works in the Jupyter Book build as it is (myst-nb renders ``text/markdown``
    outputs as CommonMark, without tables or roles).  With ``link=True`` the
    chapter links to ``<chapter>.html``, relative to the scorecard page: put the
    scorecard notebook next to the chapters (``book/generated/``) and execute
    it after them.

    Args:
        directory: the scorecard folder (default :func:`scorecard_dir`).
        link: link each chapter to its page, as above.
        rows: a frame from :func:`load` to show instead of loading ``directory`` again.
    """
    df = load(directory) if rows is None else rows
    missing = [c for c in _COLUMNS if c not in getattr(df, "columns", [])]
    if missing:
        raise ValueError(f"rows must be the frame scorecard.load() returns; missing columns {missing}")
    esc = html.escape
    out = [_STYLE, '<table class="table scorecard">',
           '<colgroup><col class="sc-c-verdict"><col class="sc-c-effect"><col class="sc-c-seeds">'
           '<col class="sc-c-holm"></colgroup>',
           '<thead><tr><th scope="col">Verdict</th><th scope="col">Effect (95 %)</th><th scope="col">Seeds</th>'
           f'<th scope="col">Holm {100 * FAMILY_ALPHA:g} %</th></tr></thead>']  # fmt: skip
    for item, group in df.groupby("item", sort=False):
        out.append(f'<tbody class="sc-group" data-item="{esc(str(item), quote=True)}">')
        out.append(f'<tr class="sc-item"><th colspan="4" scope="colgroup"><span class="sc-key">{esc(str(item))}'
                   f'</span><span class="sc-claim">{esc(ITEMS.get(str(item), ""))}</span></th></tr>')  # fmt: skip
        for rec in group.to_dict("records"):
            ex = _cell(rec["excluded"])
            word = "excluded" if ex else str(rec["verdict"])
            head = f'<span class="sc-word sc-w-{_slug(word)}">{esc("excluded" if ex else _cell(rec["label"]))}</span>'
            sub = []
            if ex:
                sub.append(f"{esc(ex)} (its verdict would read: {esc(_cell(rec['label']))})")
            where = esc(_cell(rec["setting"]))
            ch = _cell(rec["chapter"])
            if ch:
                a = f'<a href="{esc(ch, quote=True)}.html">{esc(ch)}</a>' if link else esc(ch)
                where = f"{where} &middot; {a}" if where else a
            if where:
                sub.append(where)
            verdict_cell = head + "".join(f'<div class="sc-sub">{s}</div>' for s in sub)
            if _cell(rec["cause"]):
                verdict_cell += f"<details><summary>likely cause</summary>{esc(_cell(rec['cause']))}</details>"
            effect = f'<span class="sc-num">{esc(_cell(rec["effect"]))}</span>'
            if _cell(rec["paper_effect"]):
                effect += f'<div class="sc-sub">the paper: {esc(_cell(rec["paper_effect"]))}</div>'
            seeds = _cell(rec["n_seeds"]) or "&ndash;"
            if rec["holm"]:
                hcell = (
                    f'{esc(rec["holm"])}<div class="sc-sub">p {rec["p_value"]:.2g}, adjusted {rec["p_holm"]:.2g}</div>'
                )
            elif _cell(rec["p_holm"]):
                hcell = f'&ndash;<div class="sc-sub">p {rec["p_value"]:.2g}: holds zero</div>'
            else:
                hcell = "&ndash;"
            cls = "sc-row sc-excluded" if ex else "sc-row"
            out.append(f'<tr class="{cls}"><td>{verdict_cell}</td><td>{effect}</td><td class="sc-num">{seeds}</td>'
                       f"<td>{hcell}</td></tr>")  # fmt: skip
        out.append("</tbody>")
    out.append("</table>")
    return "\n".join(out)
