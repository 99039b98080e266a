"""The reproduction scorecard: rows grouped by paper item, filled by the executed chapters.

Each chapter of the book that tests a claim of Liu et al. (ICML 2024) ends by
calling :func:`record` with the paper item it tested (:data:`ITEMS`), the
setting it ran, the verdict (:class:`ccl_lib.verdicts.Verdict`, which carries
its paired interval, the paper's effect and a p-value) and the likely cause of
any difference.  :func:`record` writes one small JSON file per (chapter, item,
setting) under the scorecard folder (:func:`scorecard_dir`:
``book/generated/scorecard`` of the book being built), atomically; the
scorecard page, executed after the chapters, reads them back with :func:`load`
(every file verified) and shows :func:`html_table`.  No cell of the scorecard
is typed by hand: a chapter that did not run leaves its items "not run".

**Many comparisons.** Every row that carries a p-value (a paired t-interval's,
:meth:`ccl_lib.verdicts.SeedInterval.p_value`) is one test of "no effect"; the
scorecard makes many, so :func:`load` adjusts them together with Holm's
step-down procedure (:func:`ccl_lib.verdicts.holm`) at a family-wise error rate
of :data:`FAMILY_ALPHA` and says for each verdict that excludes zero whether it
survives.  Rows marked ``excluded`` (they rest on a model that did not train,
issue 20 item 5) stay on the page with their reason but are left out of the family.

The folder is ``$CCL_SCORECARD_DIR`` when set, else ``book/generated/scorecard``
under the first folder above the working directory that holds the book's
``_toc.yml`` (papermill runs the chapters from ``notebooks/``).

The package: :mod:`~ccl_lib.scorecard.rows` (items, recording, loading, Holm),
:mod:`~ccl_lib.scorecard.page` (the page's tables and numbers) and :mod:`~ccl_lib.scorecard.verify` (the
ledger-verify report); every name is imported from ``ccl_lib.scorecard``.
"""

from __future__ import annotations

from .page import excluded_html, html_table, markdown_table, page_findings, table
from .rows import FAMILY_ALPHA, ITEMS, NOT_RUN, SCORECARD_FORMAT, clear, counts, load, record, record_all, scorecard_dir
from .verify import read_verify_report, verify_html, verify_text

__all__ = [
    "FAMILY_ALPHA",
    "ITEMS",
    "NOT_RUN",
    "SCORECARD_FORMAT",
    "clear",
    "counts",
    "excluded_html",
    "html_table",
    "load",
    "markdown_table",
    "page_findings",
    "read_verify_report",
    "record",
    "record_all",
    "scorecard_dir",
    "table",
    "verify_html",
    "verify_text",
]
