"""The ledger-verify report of this build on the scorecard page (:func:`read_verify_report`,
:func:`verify_text`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

from .rows import _json_object


def read_verify_report(path: Union[str, os.PathLike]) -> Optional[dict[str, Any]]:
    """The report of ``python -m ccl_lib ledger verify`` for this build, verified; ``None`` when the file is missing.

    Format: ``{"checked": n, "agreed": n, "records": [{"key", "experiment", "result"}, ...]}``
    (``checked`` and ``agreed`` non-negative integers, ``agreed <= checked``; each record's
    fields strings).  A file that is there but malformed raises ``ValueError`` naming it.

    Args:
        path: the report's path (the scorecard page's ``verify_report`` parameter).
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ValueError(f"path must be a file path, got {path!r}")
    p = Path(path)
    if not p.is_file():
        return None
    rep = _json_object(p, "ledger verify report")
    for k in ("checked", "agreed"):
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
    return {"checked": rep["checked"], "agreed": rep["agreed"], "records": recs}


def verify_text(report: Optional[dict[str, Any]]) -> str:
    """One sentence on the ledger records this build recomputed (from :func:`read_verify_report`).

    ``None`` (no report): ``"Ledger records: not checked in this build."``

    Args:
        report: the verified report, or ``None``.
    """
    if report is None:
        return "Ledger records: not checked in this build."
    if not isinstance(report, dict) or not {"checked", "agreed", "records"} <= set(report):
        raise ValueError("report must be what read_verify_report returns (checked, agreed, records) or None")
    n, ok = report["checked"], report["agreed"]
    if n == 0:
        return "This build recomputed no ledger records."
    per: dict[str, int] = {}
    for r in report["records"]:
        per[r["experiment"]] = per.get(r["experiment"], 0) + 1
    what = f" ({', '.join(f'{e}: {k}' for e, k in per.items())})" if per else ""
    rec = "record" if n == 1 else "records"
    if ok == n:
        return f"This build recomputed {n} ledger {rec}{what}; {'it' if n == 1 else 'all ' + str(n)} agreed."
    return f"This build recomputed {n} ledger {rec}{what}; {ok} agreed and {n - ok} did not."
