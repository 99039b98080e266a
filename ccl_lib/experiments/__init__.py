"""The experiment engine: runs, grids, the result cache, parallel sweeps, named experiments.

One call runs the paper's protocol (Liu et al., ICML 2024, Sec. 5.1) for a
grid of (data set, model, defense, hyperparameters, seed)::

    from ccl_lib.experiments import grid, run_grid
    specs = grid("location", {"vanilla": [{}], "ccql": "paper"}, seeds=[0, 1], epochs=30)
    df = run_grid(specs, workers=2)        # one row per (run, attack), cached on disk

* :mod:`~ccl_lib.experiments.spec` -- :class:`RunSpec` (every setting; ``key()``
  hashes them all, the defense's defaults included) and :func:`grid`;
* :mod:`~ccl_lib.experiments.runner` -- :func:`run_experiment` (train target
  and shadow, attack, P1 of Eq. 13), :func:`load_model`, :func:`load_attack_results`;
* :mod:`~ccl_lib.experiments.cache` -- :class:`ResultCache` (atomic,
  sha256-verified, resumable);
* :mod:`~ccl_lib.experiments.parallel` -- :func:`run_grid` on a local process
  pool or on Ray;
* :mod:`~ccl_lib.experiments.named` -- the named experiments of
  ``ccl_lib/configs/experiments`` (``python -m ccl_lib list``);
* :mod:`~ccl_lib.experiments.summary` -- mean and std over seeds.
"""

from .cache import CacheError, ResultCache, default_cache_dir
from .named import Experiment, list_experiments, load_experiment
from .parallel import SweepError, SweepResult, available_cores, resolve_workers, run_grid, run_sweep
from .runner import RunResult, load_attack_results, load_model, load_result, run_experiment
from .spec import RESULTS_FORMAT, FrozenDict, RunSpec, dataset_kind, derive_seed, grid
from .summary import summarize

__all__ = [
    "CacheError",
    "Experiment",
    "FrozenDict",
    "RESULTS_FORMAT",
    "ResultCache",
    "RunResult",
    "RunSpec",
    "SweepError",
    "SweepResult",
    "available_cores",
    "dataset_kind",
    "default_cache_dir",
    "derive_seed",
    "grid",
    "list_experiments",
    "load_attack_results",
    "load_experiment",
    "load_model",
    "load_result",
    "resolve_workers",
    "run_experiment",
    "run_grid",
    "run_sweep",
    "summarize",
]
