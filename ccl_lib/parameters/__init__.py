"""The papermill contract of the book: every chapter parameter, its allowed values, one check.

Each chapter (``notebooks/NN_*.py``) has a ``parameters`` cell that papermill can override
(``papermill ch.ipynb out.ipynb -p alphas "[0.1, 0.9]"``).  Right after it, the chapter calls::

    from ccl_lib.parameters import check_parameters

    globals().update(check_parameters("05_alpha_ablation", globals()))

which checks every parameter of that chapter against :data:`CHAPTERS` *before* anything is
trained, loaded or written, and stops with one line that names the parameter, the value and
what is allowed, e.g. ``parameter alphas: -1 is not in [0, 1]``.  It returns the values with
papermill's text parsed (``"[0.1, 0.9]"`` -> ``[0.1, 0.9]``, ``'{"epochs": 5}'`` -> a dict).

:data:`CHAPTERS` holds, for each chapter, every parameter's default (equal to the chapter's
``parameters`` cell: ``tests/test_parameters.py`` compares them), its allowed values, the checks that
involve several parameters (``augment=True`` on tabular data, milestones past the last epoch,
...), and the papermill command for the paper's setting (or a larger one) that the chapter
states at its top.  :func:`parse_parameters_cell` reads a parameters cell (names, defaults and
the comment above each); ``tools/parameters_page.py`` writes the book's parameter page from both.

The package: :mod:`~ccl_lib.parameters.checks` (one value's check and :class:`ParameterError`),
:mod:`~ccl_lib.parameters.names` (names the library knows, shared value sets),
:mod:`~ccl_lib.parameters.schema` (:class:`Parameter`, :class:`ChapterParameters`, cross checks),
:mod:`~ccl_lib.parameters.chapters` (:data:`CHAPTERS`, :func:`check_parameters`) and
:mod:`~ccl_lib.parameters.cell` (reading a ``parameters`` cell).
"""

from __future__ import annotations

from .cell import parse_parameters_cell, read_parameters_cell
from .chapters import CHAPTERS, chapter_parameters, check_parameters
from .checks import Check, ParameterError
from .schema import ChapterParameters, Parameter

__all__ = [
    "CHAPTERS",
    "ChapterParameters",
    "Check",
    "Parameter",
    "ParameterError",
    "check_parameters",
    "chapter_parameters",
    "parse_parameters_cell",
    "read_parameters_cell",
]
