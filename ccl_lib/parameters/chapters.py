"""Every chapter's parameters (:data:`CHAPTERS`) and the one check a chapter calls
(:func:`check_parameters`).
"""

from __future__ import annotations

from typing import Any, Mapping

from .checks import ParameterError, boolean, either, integer, list_of, mapping, number, one_of, text
from .names import (
    CONCAVE,
    EVIDENCE,
    FRACTION,
    MILESTONES,
    PART_SIZE,
    SEEDS,
    _experiment_keys,
    dataset,
    experiment,
    model,
    tabular_dataset,
    workers,
)
from .schema import (
    ChapterParameters,
    Parameter,
    _image_model_needs_images,
    _milestones_within,
    _no_augment_on_tabular,
    _probabilities,
    _something_to_run,
)

#: The paired seeds the evidence ledger holds for the Location sweeps of chapters 4, 5, 6 and 9.
LEDGER_SEEDS = list(range(20))
_WORKERS = 'parallel runs: an integer, or "auto" (one per GPU, else one per CPU core)'
_STRONG_DEFENSES = one_of("vanilla", "CCEL", "CCQL", "RelaxLoss", "DP-SGD")


def _recipe(**data: Parameter) -> dict[str, Parameter]:
    """The data-set parameter(s) given, then the recipe parameters chapters 5, 7, 8 and 9 share
    (model, epochs, milestones, augment, part_size, seeds), with the book's defaults."""
    return {
        **data,
        "model": Parameter("auto", model()),
        "epochs": Parameter(30, integer(1)),
        "milestones": Parameter([], MILESTONES),
        "augment": Parameter(False, boolean()),
        "part_size": Parameter(1000, PART_SIZE),
        "seeds": Parameter([0, 1, 2], SEEDS),
    }


#: Every chapter's parameters: ``{chapter stem: ChapterParameters}``.  Defaults equal the chapters'
#: ``parameters`` cells (tested); meanings come from the comments in those cells.
def _curve_settings() -> dict[str, Parameter]:
    """The settings chapters 4 and 6 share: one image experiment's curves beside a Location sweep."""
    return {
        "image_experiment": Parameter("cifar10-cpu", experiment()),
        "image_seeds": Parameter([0], SEEDS),
        "dataset": Parameter("location", tabular_dataset()),
        "model": Parameter("auto", one_of("auto", "mlp")),
        "epochs": Parameter(30, integer(1)),
        "milestones": Parameter([], MILESTONES),
        "part_size": Parameter(1000, PART_SIZE),
    }


CHAPTERS: dict[str, ChapterParameters] = {
    "01_membership_inference": ChapterParameters(
        {
            "dataset": Parameter("location", tabular_dataset()),
            "part_size": Parameter(1000, integer(1)),
            "epochs": Parameter(30, integer(1)),
            "milestones": Parameter([], MILESTONES),
            "model_name": Parameter("mlp", one_of("mlp")),
            "low_fprs": Parameter([0.01, 0.001], list_of(number(0, 1, lo_open=True, hi_open=True))),
            "cpu_threads": Parameter(1, integer(0)),
            "seed": Parameter(0, integer(0), "random seed of the split, the models and the attacks"),
        },
        (_milestones_within(),),
        'papermill 01_membership_inference.ipynb out.ipynb -p part_size 1250 -p epochs 120 -p milestones "[50, 100]"',
    ),
    "02_theory": ChapterParameters(
        {
            "n_samples": Parameter(20_000, integer(100)),
            "n_fixed_mean": Parameter(20, integer(2)),
            "fixed_mean": Parameter(0.8, number(0, 1, lo_open=True, hi_open=True)),
            "n_distributions": Parameter(40, integer(2)),
            "mu_s": Parameter(0.3, number(0)),
            "mu_d": Parameter(1.5, number(0)),
            "sigma_d": Parameter(0.8, number(0, lo_open=True)),
            "fprs": Parameter([0.1, 0.01], list_of(number(0, 1, lo_open=True, hi_open=True))),
            "n_sim": Parameter(10_000, integer(10)),
            "n_repeats": Parameter(20, integer(1)),
            "n_logits": Parameter(2_000, integer(10)),
            "logit_scale": Parameter(5.0, number(0, lo_open=True)),
            "alpha": Parameter(0.5, FRACTION),
            "num_classes": Parameter(10, integer(2)),
            "dirichlet_mu": Parameter(
                [0.7, 0.2, 0.1],
                list_of(number(0, 1, lo_open=True), what="a list of at least two probabilities in (0, 1]"),
            ),
            "n_concentrations": Parameter(13, integer(2)),
            "n_mc": Parameter(50_000, integer(100)),
            "lr_dataset": Parameter("digits", tabular_dataset()),
            "lr_max_examples": Parameter(1_000, integer(10)),
            "lr_n_starts": Parameter(6, integer(1)),
            "lr_l2": Parameter(1e-3, number(0, lo_open=True)),
            "lr_init_scale": Parameter(1.0, number(0, lo_open=True)),
            "lr_concave": Parameter("exp", CONCAVE),
            "seed": Parameter(0, integer(0), "random seed of every simulation"),
        },
        (_probabilities("dirichlet_mu"),),
        "papermill 02_theory.ipynb out.ipynb -p n_samples 1000000 -p n_mc 1000000 -p lr_n_starts 50",
    ),
    "03_anatomy_of_ccl": ChapterParameters(
        {
            "alphas": Parameter([0.2, 0.5, 0.8], list_of(FRACTION)),
            "gamma": Parameter(2.0, number(0)),
            "n_grid": Parameter(400, integer(10)),
            "n_check": Parameter(2048, integer(1)),
            "num_classes": Parameter(10, integer(2)),
            "logit_scale": Parameter(5.0, number(0, lo_open=True)),
            "seed": Parameter(0, integer(0), "random seed of the gradient check"),
        },
        (),
        'papermill 03_anatomy_of_ccl.ipynb out.ipynb -p alphas "[0.1, 0.3, 0.5, 0.7, 0.9]" -p n_check 100000',
    ),
    "04_figure1_loss_variance": ChapterParameters(
        {
            **_curve_settings(),
            "image_seeds": Parameter(list(range(50)), SEEDS),
            "seeds": Parameter(LEDGER_SEEDS, SEEDS),
            "gamma": Parameter(2.0, number(0)),
            "workers": Parameter("auto", workers()),
            "evidence": Parameter("ledger", EVIDENCE),
        },
        (_milestones_within(),),
        "papermill 04_figure1_loss_variance.ipynb out.ipynb -p image_experiment figure1-cifar10 "
        '-p image_seeds "[0, 1, 2]"',
        "the paper's ResNet-34 recipe on CIFAR-10: about an hour per run on one H100-class GPU, six runs",
    ),
    "05_alpha_ablation": ChapterParameters(
        {
            **_recipe(dataset=Parameter("location", dataset())),
            "seeds": Parameter(list(range(20)), SEEDS),
            "alphas": Parameter([0.1, 0.3, 0.5, 0.7, 0.9], list_of(FRACTION)),
            "workers": Parameter("auto", workers()),
            "evidence": Parameter("ledger", EVIDENCE),
        },
        (_no_augment_on_tabular("dataset"), _image_model_needs_images("dataset"), _milestones_within()),
        "papermill 05_alpha_ablation.ipynb out.ipynb -p dataset cifar10 -p model resnet34 -p epochs 300 "
        '-p milestones "[150, 225]" -p augment True -p part_size None '
        '-p alphas "[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]" -p seeds "[0, 1, 2]"',
        "19 runs per seed of two ResNet-34 models for 300 epochs: about 10 GPU-hours per seed",
    ),
    "06_convergence": ChapterParameters(
        {
            **_curve_settings(),
            "image_experiment": Parameter("evidence-table1-cifar10-cpu-800", experiment()),
            "image_seeds": Parameter([0, 1, 2, 3, 4], SEEDS),
            "lr": Parameter(0.1, number(0, lo_open=True)),
            "seeds": Parameter(LEDGER_SEEDS, SEEDS),
            "alpha": Parameter(0.5, FRACTION),
            "tol": Parameter(0.01, number(0, 1, lo_open=True)),
            "workers": Parameter("auto", workers()),
            "evidence": Parameter("ledger", EVIDENCE),
        },
        (_milestones_within(),),
        'papermill 06_convergence.ipynb out.ipynb -p image_experiment figure5-cifar10 -p image_seeds "[0, 1, 2]"',
        "3 runs of two ResNet-34 models for 300 epochs per seed: about 1.5 hours per seed on one H100-class GPU",
    ),
    "07_privacy_utility": ChapterParameters(
        {
            **_recipe(dataset=Parameter("location", dataset())),
            "seeds": Parameter(list(range(10)), SEEDS),
            "grid": Parameter("paper", one_of("cpu", "paper")),
            "alphas": Parameter([0.1, 0.3, 0.5, 0.7, 0.9], list_of(FRACTION)),
            "settings_per_baseline": Parameter(1, one_of(1, 2)),
            "acc_tolerance": Parameter(0.02, FRACTION),
            "ncols": Parameter(3, integer(1, 6)),
            "variants_experiment": Parameter("variants-location", experiment(empty=True)),
            "workers": Parameter("auto", workers()),
            "evidence": Parameter("ledger", EVIDENCE),
        },
        (_no_augment_on_tabular("dataset"), _image_model_needs_images("dataset"), _milestones_within()),
        "papermill 07_privacy_utility.ipynb out.ipynb -p dataset cifar10 -p model resnet34 -p epochs 300 "
        '-p milestones "[150, 225]" -p augment True -p part_size None -p grid paper -p workers auto',
        "68 settings of two models for 300 epochs, times three seeds: three to six GPU-days on one H100-class GPU",
    ),
    "08_table1_p1": ChapterParameters(
        {
            **_recipe(datasets=Parameter(["location"], list_of(dataset(), what="a non-empty list of data sets"))),
            "seeds": Parameter(list(range(100)), SEEDS),
            "paper_recipe": Parameter(True, boolean()),
            "paper_recipe_seeds": Parameter(list(range(20)), either(one_of(None), SEEDS)),
            "image_experiment": Parameter(
                "evidence-table1-cifar10-cpu-800", experiment(empty=True), "the recorded image setting"
            ),
            "image_seeds": Parameter([0, 1, 2, 3, 4], SEEDS, "its paired seeds"),
            "alpha": Parameter(0.5, FRACTION),
            "gpu_results": Parameter("../results", text()),
            "workers": Parameter("auto", workers()),
            "evidence": Parameter("ledger", EVIDENCE),
        },
        (_no_augment_on_tabular("datasets"), _image_model_needs_images("datasets"), _milestones_within()),
        'papermill 08_table1_p1.ipynb out.ipynb -p datasets \'["texas100", "purchase100"]\' -p epochs 120 '
        '-p milestones "[50, 100]" -p part_size None',
        "the tabular columns: 18 runs per 3 seeds, half a day on a CPU; the image columns are GPU work (see the "
        "chapter); the default reads 360 Location runs and 9 long-recipe image runs from the ledger (-p evidence "
        "compute: about 3 CPU-hours for Location and 2.5 for the image runs)",
    ),
    "09_appendix_d_focal": ChapterParameters(
        {
            **_recipe(dataset=Parameter("location", dataset())),
            "seeds": Parameter(LEDGER_SEEDS, SEEDS),
            "gamma": Parameter(2.0, number(0)),
            "concave": Parameter("exp", CONCAVE),
            "alphas": Parameter([0.2, 0.6, 0.8], list_of(FRACTION)),
            "workers": Parameter("auto", workers()),
            "evidence": Parameter("ledger", EVIDENCE),
        },
        (_no_augment_on_tabular("dataset"), _image_model_needs_images("dataset"), _milestones_within()),
        "papermill 09_appendix_d_focal.ipynb out.ipynb -p dataset cifar10 -p model resnet34 -p epochs 300 "
        '-p milestones "[150, 225]" -p augment True -p part_size None -p alphas "[0.2, 0.4, 0.6, 0.8]" '
        '-p seeds "[0, 1, 2]" -p workers auto',
        "5 settings of two ResNet-34 models for 300 epochs, times three seeds: 6-9 hours on one H100-class GPU",
    ),
    "10_strong_attacks": ChapterParameters(
        {
            "tabular": Parameter("location", either(one_of(""), tabular_dataset())),
            "location_size": Parameter(1000, integer(1)),
            "location_epochs": Parameter(20, integer(1)),
            "location_lr": Parameter(0.1, number(0, lo_open=True), "SGD learning rate of the tabular models"),
            "location_batch_size": Parameter(128, integer(1), "SGD batch size of the tabular models"),
            "k": Parameter(4, integer(1)),
            "location_defenses": Parameter(["vanilla", "CCQL", "RelaxLoss", "DP-SGD"], list_of(_STRONG_DEFENSES)),
            "image_experiment": Parameter("cifar10-cpu", experiment(empty=True)),
            "image_set": Parameter({}, mapping(_experiment_keys, "a dict of experiment settings, e.g. {'epochs': 5}")),
            "image_k": Parameter(2, integer(1)),
            "image_defenses": Parameter(["vanilla", "CCQL"], list_of(_STRONG_DEFENSES)),
            "seeds": Parameter([0], SEEDS),
            "attacker": Parameter("matched", one_of("matched", "mismatched")),
            "ccl_alpha": Parameter(0.5, FRACTION),
            "relaxloss_alpha": Parameter(1.0, number(0, lo_open=True)),
            "dp_noise_multiplier": Parameter(1.0, number(0, lo_open=True)),
            "dp_max_grad_norm": Parameter(1.0, number(0, lo_open=True), "DP-SGD clipping norm C"),
            "dp_delta": Parameter(1e-5, number(0, 1, lo_open=True, hi_open=True), "the delta of the reported epsilon"),
            "fixed_variance": Parameter(True, boolean()),
            "rmia_a": Parameter("tune", either(one_of("tune"), FRACTION)),
            "rmia_a_fixed": Parameter(0.3, FRACTION),
            "n_boot": Parameter(1000, integer(10)),
            "level": Parameter(0.95, number(0, 1, lo_open=True, hi_open=True), "coverage of the bootstrap intervals"),
        },
        (_something_to_run,),
        "papermill 10_strong_attacks.ipynb out.ipynb -p k 16 -p image_k 16 -p location_size 1250 "
        '-p seeds "[0, 1, 2]" -p location_defenses \'["vanilla", "CCEL", "CCQL", "RelaxLoss", "DP-SGD"]\' '
        '-p image_defenses \'["vanilla", "CCEL", "CCQL", "RelaxLoss", "DP-SGD"]\'',
        "510 models: most of a day on 2 CPU cores, about an hour on one GPU",
    ),
    "11_privacy_source": ChapterParameters(
        {
            "design": Parameter(
                "ci", one_of("ci", "full"), '"ci": the decisive image arms and all Location arms; "full": every arm'
            ),
            "seeds": Parameter(list(range(20)), SEEDS, "paired seeds of the tabular arms (0-19 are in the ledger)"),
            "image_seeds": Parameter(list(range(10)), SEEDS, "paired seeds of the image arms (0-9 are in the ledger)"),
            "betas": Parameter(
                [0.01], list_of(number(0, 1, lo_open=True)), "loss scale factors beta (with design full: [0.01, 0.05])"
            ),
            "alpha": Parameter(0.5, FRACTION, "CCEL / CCQL alpha (Eq. 4)"),
            "image_experiment": Parameter("cifar10-cpu", experiment(), "the image setting: a named experiment"),
            "image_overrides": Parameter(
                {},
                mapping(_experiment_keys, "a dict of experiment settings, e.g. {'epochs': 5}"),
                "overrides of that experiment's settings",
            ),
            "long_experiment": Parameter(
                "evidence-table1-cifar10-cpu-800", experiment(empty=True), "the long image recipe; '' skips it"
            ),
            "long_seeds": Parameter(
                [0, 1, 2, 3, 4], SEEDS, "paired seeds of the long recipe (a seed not wholly in the ledger is left out)"
            ),
            "attempt_experiment": Parameter(
                "evidence-confound-cifar10-cpu-long", experiment(empty=True), "the first, 400-epoch long recipe"
            ),
            "attempt_seeds": Parameter(
                [0, 1, 2, 3, 4], SEEDS, "paired seeds of the first long recipe (0-4 are in the ledger)"
            ),
            "tabular_dataset": Parameter("location", tabular_dataset(), "the tabular data set (the MLP)"),
            "tabular_epochs": Parameter(30, integer(1), "training epochs of the tabular arms"),
            "tabular_part_size": Parameter(1000, PART_SIZE, "examples per split part (None: all of the data set)"),
            "workers": Parameter("auto", workers(), _WORKERS),
            "evidence": Parameter("ledger", EVIDENCE),
        },
        (),
        'papermill 11_privacy_source.ipynb out.ipynb -p design full -p seeds "[0, 1, 2]"',
        "every arm on both data sets for beta in {0.01, 0.05} (the chapter states the cost)",
    ),
    "12_code_vs_text": ChapterParameters(
        {
            "experiment": Parameter("variants-location", experiment(), "the named experiment whose runs it reads"),
            "overrides": Parameter(
                {},
                mapping(_experiment_keys, "a dict of experiment settings, e.g. {'epochs': 2}"),
                "overrides of that experiment's settings",
            ),
            "seeds": Parameter([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], SEEDS, "paired seeds (the experiment's)"),
            "image_experiment": Parameter(
                "variants-cifar10-cpu", experiment(empty=True), "the image experiment with the image forms"
            ),
            "image_seeds": Parameter([0, 1, 2, 3, 4], SEEDS, "its paired seeds"),
            "lira_experiment": Parameter(
                "variants-lira-location", experiment(empty=True), "the sweep scoring both LiRA forms on Location"
            ),
            "lira_seeds": Parameter([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], SEEDS, "its paired seeds"),
            "image_lira_experiment": Parameter(
                "variants-lira-cifar10-cpu", experiment(empty=True), "the sweep scoring both LiRA forms on images"
            ),
            "image_lira_seeds": Parameter([0, 1, 2, 3, 4], SEEDS, "its paired seeds"),
            "scale_experiment": Parameter(
                "variants-scale-cifar10-cpu-long", experiment(empty=True), "CCQL at scale 0.05 beside 0.01 (images)"
            ),
            "scale_seeds": Parameter([0, 1, 2, 3, 4, 5], SEEDS, "its paired seeds"),
            "workers": Parameter(1, workers(), _WORKERS),
            "evidence": Parameter("ledger", EVIDENCE),
        },
        (),
        'papermill 12_code_vs_text.ipynb out.ipynb -p seeds "[0, 1, 2, 3, 4]" -p evidence compute',
        "50 runs on Location and 40 image runs, the LiRA sweeps (20 Location and 5 image targets, each with 8 "
        "reference models) and 6 long image runs at scale 0.05 and 0.01 (the default reads them all from the "
        "ledger): about 3 hours on 2 CPU cores",
    ),
    "99_scorecard": ChapterParameters(
        {
            "scorecard_dir": Parameter(None, either(one_of(None), text())),
            "verify_report": Parameter("../.cache/ledger-verify.json", text()),
        },
    ),
}


def chapter_parameters(chapter: str) -> ChapterParameters:
    """The declared parameters of ``chapter`` (a notebook stem such as ``"05_alpha_ablation"``)."""
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}; chapters with parameters: {', '.join(CHAPTERS)}")
    return CHAPTERS[chapter]


def check_parameters(chapter: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Check every parameter of ``chapter`` in ``namespace`` (a notebook's ``globals()``).

    Call it in the cell right after the ``parameters`` cell (papermill's injected values
    come between them), before anything is loaded or trained.

    Args:
        chapter: the notebook stem (``"03_anatomy_of_ccl"``); a key of :data:`CHAPTERS`.
        namespace: where the parameters live; a parameter missing from it is an error
            (the parameters cell was not run).

    Returns:
        ``{name: value}`` of every parameter, papermill's text parsed (lists, dicts, data set
        aliases resolved); ``globals().update(...)`` puts them back.

    Raises:
        ParameterError: one line, ``parameter <name>: <value> is not <what is allowed>``.
    """
    spec = chapter_parameters(chapter)
    if not isinstance(namespace, Mapping):
        raise TypeError(f"namespace must be a mapping such as globals(), got {type(namespace).__name__}")
    values: dict[str, Any] = {}
    for name, p in spec.parameters.items():
        if name not in namespace:
            raise ParameterError(name, None, "", detail="missing: run the parameters cell first")
        values[name] = p.check(name, namespace[name])
    for cross in spec.cross_checks:
        bad = cross(values)
        if bad is not None:
            name, message = bad
            raise ParameterError(name, values[name], "", detail=message)
    return values
