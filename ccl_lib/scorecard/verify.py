"""The ledger-verify report of this build on the scorecard page (:func:`read_verify_report`,
:func:`verify_text`, :func:`verify_html`).

The report is what ``python -m ccl_lib ledger verify --report <file>`` writes (``make ledger-verify``
writes ``.cache/ledger-verify.json``): the layout of
:meth:`ccl_lib.experiments.ledger.VerifyReport.to_dict`.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any, Optional, Union

from .rows import _json_object

__all__ = ["read_verify_report", "verify_html", "verify_text"]


def read_verify_report(path: Union[str, os.PathLike]) -> Optional[dict[str, Any]]:
    """The report of ``python -m ccl_lib ledger verify`` for this build, verified; ``None`` when the file is missing.

    Format: ``{"checked": n, "agreed": n, "records": [{"key", "experiment", "result"}, ...]}``
    (``checked`` and ``agreed`` non-negative integers, ``agreed <= checked``; each record's
    fields strings), and where the ledger wrote them ``sound`` (records whose digest and spec
    were checked and held, an integer), ``refused`` (a list of ``{"key", "reason"}``) and
    ``commit`` (a string).  A file that is there but malformed raises ``ValueError`` naming it.

    Args:
        path: the report's path (the scorecard page's ``verify_report`` parameter).
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ValueError(f"path must be a file path, got {path!r}")
    p = Path(path)
    if not p.is_file():
        return None
    rep = _json_object(p, "ledger verify report")
    for k in ("checked", "agreed", *(["sound"] if "sound" in rep else [])):
        v = rep.get(k)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"ledger verify report {p}: {k!r} must be a non-negative integer, got {v!r}")
    if rep["agreed"] > rep["checked"]:
        raise ValueError(f"ledger verify report {p}: agreed ({rep['agreed']}) exceeds checked ({rep['checked']})")
    recs = rep.get("records")
    if not isinstance(recs, list) or not all(
        isinstance(r, dict) and all(isinstance(r.get(k), str) for k in ("key", "experiment", "result")) for r in recs
    ):
        raise ValueError(f"ledger verify report {p}: 'records' must be a list of objects with string key, "
                         "experiment and result")  # fmt: skip
    refused = rep.get("refused", [])
    if not isinstance(refused, list) or not all(
        isinstance(r, dict) and all(isinstance(r.get(k), str) for k in ("key", "reason")) for r in refused
    ):
        raise ValueError(f"ledger verify report {p}: 'refused' must be a list of objects with string key and reason")
    out: dict[str, Any] = {"checked": rep["checked"], "agreed": rep["agreed"], "records": recs, "refused": refused}
    if "sound" in rep:
        out["sound"] = rep["sound"]
    if isinstance(rep.get("commit"), str):
        out["commit"] = rep["commit"]
    return out


def _modes(records: list[dict[str, Any]]) -> str:
    """``"bit-identical"``, ``"2 bit-identical, 1 within tolerance"``: how the recomputed records agreed."""
    per: dict[str, int] = {}
    for r in records:
        res = r["result"]
        mode = res[res.find("(") + 1 : res.find(":")] if "(" in res and ":" in res else ""
        if mode:
            per[mode] = per.get(mode, 0) + 1
    if len(per) == 1:
        return next(iter(per))
    return ", ".join(f"{k} {m}" for m, k in per.items())


def verify_text(report: Optional[dict[str, Any]]) -> str:
    """One or two sentences on the ledger records this build recomputed (from :func:`read_verify_report`).

    ``None`` (no report): ``"Ledger records: not checked in this build."``  Otherwise how many
    records were recomputed, out of how many the ledger holds (where the report says), whether
    they all agreed and how (bit-identical, within tolerance), and how many records' digests and
    specs held.

    Args:
        report: the verified report, or ``None``.
    """
    if report is None:
        return "Ledger records: not checked in this build."
    if not isinstance(report, dict) or not {"checked", "agreed", "records"} <= set(report):
        raise ValueError("report must be what read_verify_report returns (checked, agreed, records) or None")
    n, ok = report["checked"], report["agreed"]
    refused = report.get("refused", [])
    total = report["sound"] + len(refused) if "sound" in report else None
    held = (
        ""
        if total is None
        else f" The digests and specs of all {total} records held."
        if not refused
        else f" Of the {total} records' digests and specs, {len(refused)} were refused."
    )
    if n == 0:
        return "This build recomputed no ledger records." + held
    rec = "record" if n == 1 else "records"
    of = f"{n} of the ledger's {total} records" if total is not None else f"{n} ledger {rec}"
    modes = _modes(report["records"])
    if modes:
        of += f" ({modes})"
    elif total is None:
        per: dict[str, int] = {}
        for r in report["records"]:
            per[r["experiment"]] = per.get(r["experiment"], 0) + 1
        of += f" ({', '.join(f'{e}: {k}' for e, k in per.items())})" if per else ""
    if ok == n:
        return f"This build recomputed {of}; {'it' if n == 1 else 'all ' + str(n)} agreed." + held
    return f"This build recomputed {of}; {ok} agreed and {n - ok} did not." + held


def verify_html(report: Optional[dict[str, Any]]) -> str:
    """The recomputed records and the refused ones as an HTML list in a fold (empty text without a report).

    Args:
        report: the verified report of :func:`read_verify_report`, or ``None``.
    """
    if report is None:
        return ""
    esc = html.escape
    items = [f"<li><code>{esc(r['key'])}</code> {esc(r['experiment'])}: {esc(r['result'])}</li>"
             for r in report["records"]]  # fmt: skip
    items += [f"<li><code>{esc(r['key'])}</code> refused: {esc(r['reason'])}</li>" for r in report.get("refused", [])]
    if not items:
        return ""
    commit = f" at commit <code>{esc(report['commit'][:7])}</code>" if report.get("commit") else ""
    return f"<details><summary>The records recomputed{commit}</summary><ul>{''.join(items)}</ul></details>"
