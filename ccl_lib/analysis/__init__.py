"""The analyses behind the book's experiment chapters (notebooks 04-11), one module per paper item.

Each module turns a sweep's result frame (:func:`ccl_lib.experiments.run_grid`) or its runs'
training histories into the table behind one figure of Liu et al. (ICML 2024) and into
*verdict values* (numbers, booleans, verdict words) that a chapter's hand-written
"What we saw" glues in with myst-nb's ``glue`` -- never into sentences.  Import from the
modules (``from ccl_lib.analysis.privacy_utility import best_at_utility``):

* :mod:`ccl_lib.analysis.runs` -- run a sweep (``run_runs``), select runs of one setting,
  mean histories, the strongest attack per run.
* :mod:`ccl_lib.analysis.tables` -- one row per setting, per CCL alpha, or per epoch.
* :mod:`ccl_lib.analysis.curves` -- Fig. 1 and Fig. 5 over seeds (intervals, convergence).
* :mod:`ccl_lib.analysis.ablation` -- Fig. 4 over seeds (slopes against alpha).
* :mod:`ccl_lib.analysis.privacy_utility` -- Fig. 2/3: the chapter's grid, Sec. 5.2's rule,
  the P1 ranking.
* :mod:`ccl_lib.analysis.p1` -- Table 1.
* :mod:`ccl_lib.analysis.focal` -- App. D (focal loss + CCL).
* :mod:`ccl_lib.analysis.findings` -- a chapter's findings glued by name in one call
  (``glue_findings("ch05", ablation.alpha_findings(...))``).

Number formatting lives in :mod:`ccl_lib.formatting`; notebook set-up and parameters in
:mod:`ccl_lib.book`.
"""
