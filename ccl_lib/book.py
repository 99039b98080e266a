"""What every chapter of the book shares: set-up and notebook parameters.

* :func:`setup` -- the first call of every chapter: quiet, reproducible display settings
  (no progress bars or widgets, no setup noise, pandas display options, the one
  matplotlib style :func:`ccl_lib.plots.use_book_style`).
* :func:`param_list` -- a list parameter also when papermill passed it as text.
* :func:`recipe` / :func:`fit_part_size` -- the training settings chapters 4-9 share.

Usage, in a chapter's first code cell (tagged ``remove-input``)::

    from ccl_lib import book
    book.setup()
    recipe = book.recipe(dataset, model=model, epochs=epochs, milestones=milestones,
                         augment=augment, part_size=part_size, seeds=seeds)
"""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

__all__ = ["fit_part_size", "param_list", "recipe", "setup"]


def setup(precision: int = 4, *, style: bool = True) -> None:
    """Quiet, reproducible settings for a chapter; call it first, before anything imports torch.

    * no progress bars and no tqdm widgets (``CCL_PROGRESS=0``, ``TQDM_DISABLE=1``, and
      ``tqdm.auto`` falls back to its text bar, which is disabled);
    * idle OpenMP threads sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``, effective only
      before torch is imported; spinning threads cost ~4x on a shared 2-core machine);
    * no warnings about missing ipywidgets (``IProgress not found``);
    * pandas shows ``precision`` digits and wide frames without wrapping;
    * with ``style``, the book's matplotlib style (:func:`ccl_lib.plots.use_book_style`).

    Settings already made in the environment (e.g. by ``make book``) are kept.

    Args:
        precision: digits pandas shows for floats outside :func:`ccl_lib.formatting.format_table`.
        style: apply the book's matplotlib style.
    """
    import warnings

    if isinstance(precision, bool) or not isinstance(precision, int) or precision < 0:
        raise ValueError(f"precision must be a non-negative integer, got {precision!r}")
    os.environ.setdefault("CCL_PROGRESS", "0")
    os.environ.setdefault("TQDM_DISABLE", "1")
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    warnings.filterwarnings("ignore", message="IProgress not found")
    try:  # tqdm.auto would pick the notebook (widget) bar; use the plain one, which TQDM_DISABLE silences
        import tqdm
        import tqdm.auto

        tqdm.auto.tqdm = tqdm.tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        pass

    import pandas as pd

    pd.set_option("display.precision", precision)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 40)
    if style:
        from .plots import use_book_style

        use_book_style()


def param_list(value: Any, name: str = "parameter") -> list:
    """A notebook parameter that must be a list, also when papermill passed it as text.

    ``papermill -p milestones "[150, 225]"`` hands the notebook the *string*
    ``"[150, 225]"``; this parses it (a Python/JSON literal) and checks it is a list.
    A single number becomes a one-element list; ``None`` and ``""`` give ``[]``.

    Args:
        value: the parameter's value (a list, a tuple, a number, ``None`` or text).
        name: the parameter's name, for the error message.
    """
    import ast

    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"{name} must be a list literal such as [0.1, 0.5], got {text!r}") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list such as [0.1, 0.5], got {value!r}")
    return list(value)


def fit_part_size(dataset: str, part_size: Optional[int], n_parts: int = 4) -> Optional[int]:
    """``part_size`` if ``dataset`` holds ``n_parts`` parts of that size, else ``None`` (all the data).

    Lets one notebook parameter serve data sets of different sizes (chapter 8:
    Location holds 4 x 1,000 examples, scikit-learn's digits only 4 x 449).

    Args:
        dataset: a data set name of :func:`ccl_lib.data.available_datasets`.
        part_size: examples per part (a positive integer), or ``None`` for all the data.
        n_parts: 4 (target/shadow, members/non-members, Sec. 5.1) or 5 (with the reference pool
            of the strong attacks).
    """
    if part_size is None:
        return None
    if isinstance(part_size, bool) or not isinstance(part_size, int) or part_size < 1:
        raise ValueError(f"part_size must be a positive integer or None, got {part_size!r}")
    if n_parts not in (4, 5):
        raise ValueError(f"n_parts must be 4 or 5, got {n_parts!r}")
    from .data import load_dataset

    n = len(load_dataset(dataset).y)
    return part_size if n_parts * part_size <= n else None


def recipe(
    dataset: Optional[str],
    *,
    model: str,
    epochs: int,
    milestones: Any,
    augment: bool,
    part_size: Optional[int],
    seeds: Any,
    n_parts: int = 4,
) -> dict[str, Any]:
    """The keyword arguments of :func:`ccl_lib.experiments.grid` from a chapter's parameters.

    Chapters 4-9 share one recipe, so the runs they have in common are trained once and cached.

    Args:
        dataset: the data set, or ``None`` for chapters that loop over data sets (``size`` is
            then left out).
        model: a model name of :func:`ccl_lib.models.build_model` (or ``"auto"``).
        epochs: training epochs.
        milestones: epochs at which the learning rate drops tenfold; a list or its text
            (papermill, :func:`param_list`).
        augment: random crop + flip for images (the paper's CIFAR recipe).
        part_size: examples per part; :func:`fit_part_size` turns it into ``size``
            (``None`` where ``dataset`` is too small: all of it).
        seeds: the seeds, a list, a single number, or their text.
        n_parts: 4 or 5 parts (see :func:`fit_part_size`).

    Returns:
        ``dict(model, epochs, milestones, augment, seeds[, size])``.
    """
    out: dict[str, Any] = dict(
        model=model,
        epochs=epochs,
        milestones=param_list(milestones, "milestones"),
        augment=augment,
        seeds=param_list(seeds, "seeds"),
    )
    if dataset is not None:
        out["size"] = fit_part_size(dataset, part_size, n_parts=n_parts)  # None if too small: all of it
    return out
