"""Chapter 11's design: which arms run on which data set, seeds and recipe.

* :func:`design_betas` -- the scale factors of a design (``"full"`` adds App. E.1's CIFAR-100 0.05);
* :func:`image_recipe` -- the :class:`~ccl_lib.experiments.RunSpec` recipe of a named image experiment;
* :func:`chapter_pairs` -- every ``(arm, RunSpec)`` of the chapter: all arms on the tabular data set
  for ``seeds``, on the image data set the decisive arms (:data:`IMAGE_ARMS_CI`) or all of them for
  ``image_seeds``;
* :func:`recipe_text` -- the image recipe in a few words.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from .arms import Arm, arm_specs, arms

__all__ = ["DESIGNS", "IMAGE_ARMS_CI", "chapter_pairs", "design_betas", "image_recipe", "recipe_text"]

#: ``"ci"``: the decisive image arms and every tabular arm; ``"full"``: every arm on both, beta 0.01 and 0.05.
DESIGNS = ("ci", "full")
#: The image arms of the ``"ci"`` design: CE, CE at the scale's effective recipe, CCQL x beta.
IMAGE_ARMS_CI = ("CE", "CE(lr·β, wd/β)", "CCQL×β")
_RECIPE_KEYS = ("model", "epochs", "milestones", "batch_size", "augment", "size")


def _design(design: str) -> str:
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {list(DESIGNS)}, got {design!r}")
    return design


def design_betas(design: str, betas: Sequence[float]) -> list[float]:
    """The scale factors to run: ``betas``, or with ``design="full"`` and the default ``[0.01]`` App. E.1's
    two factors ``[0.01, 0.05]`` (CIFAR-10, CIFAR-100).

    Args:
        design: ``"ci"`` or ``"full"`` (:data:`DESIGNS`).
        betas: the scale factors given, each in (0, 1].
    """
    betas = [float(b) for b in betas]
    if not betas:
        raise ValueError("betas must be a non-empty list of scale factors in (0, 1], e.g. [0.01]")
    return [0.01, 0.05] if _design(design) == "full" and betas == [0.01] else betas


def image_recipe(experiment: str, overrides: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(dataset, recipe)`` of a named experiment (:func:`ccl_lib.experiments.load_experiment`): its data set
    and the :class:`~ccl_lib.experiments.RunSpec` fields ``model, epochs, milestones, batch_size, augment, size``
    (those it sets).

    Args:
        experiment: a named experiment (``"cifar10-cpu"``).
        overrides: its settings to override (``{"epochs": 5}``).
    """
    from ..experiments import load_experiment

    cfg = load_experiment(experiment, dict(overrides)).config
    recipe = {k: cfg[k] for k in _RECIPE_KEYS if k in cfg}
    recipe["milestones"] = tuple(recipe.get("milestones", ()))
    return cfg["dataset"], recipe


def chapter_pairs(
    design: str,
    betas: Sequence[float],
    *,
    alpha: float,
    tabular_dataset: str,
    tabular_recipe: Mapping[str, Any],
    seeds: Sequence[int],
    image_dataset: str,
    image_recipe: Mapping[str, Any],
    image_seeds: Sequence[int],
) -> list[tuple[Arm, Any]]:
    """Every ``(arm, RunSpec)`` of chapter 11, per beta: all arms on the tabular data for ``seeds``; on the image
    data :data:`IMAGE_ARMS_CI` (``design="ci"``) or all arms (``"full"``) for ``image_seeds``.

    Args:
        design: ``"ci"`` or ``"full"``.
        betas: the scale factors (:func:`design_betas`).
        alpha: CCEL / CCQL's alpha (Eq. 4).
        tabular_dataset: the tabular data set (the MLP).
        tabular_recipe: its other RunSpec fields (``model``, ``epochs``, ``size``).
        seeds: the tabular seeds.
        image_dataset: the image data set.
        image_recipe: its RunSpec fields (:func:`image_recipe`).
        image_seeds: the image seeds.
    """
    names = None if _design(design) == "full" else list(IMAGE_ARMS_CI)
    pairs: list[tuple[Arm, Any]] = []
    for b in betas:
        pairs += arm_specs(tabular_dataset, arms(b, alpha=alpha), seeds, **tabular_recipe)
        pairs += arm_specs(image_dataset, arms(b, alpha=alpha, names=names), image_seeds, **image_recipe)
    return pairs


def recipe_text(dataset: str, recipe: Mapping[str, Any]) -> str:
    """``"cifar10-jpeg, resnet8, 500 per part, 50 epochs (milestones [25, 38]), augmentation off"``.

    Args:
        dataset: the data set.
        recipe: its RunSpec fields (:func:`image_recipe`).
    """
    batch = f", batch {recipe['batch_size']}" if "batch_size" in recipe else ""
    return (f"{dataset}, {recipe['model']}, {recipe.get('size')} per part, {recipe['epochs']} epochs "
            f"(milestones {list(recipe.get('milestones', ()))}), "
            f"augmentation {'on' if recipe.get('augment') else 'off'}{batch}")  # fmt: skip


def sgd_steps(recipe: Mapping[str, Any]) -> int:
    """The number of SGD steps of one model's training in a recipe: ``epochs * ceil(size / batch_size)``.

    The step count, not the epoch count, is what a scaled loss needs to train (App. E.1: the loss scale
    beta is a learning rate ``lr * beta`` with weight decay ``wd / beta``; with BatchNorm the effective
    step recovers after on the order of ``1 / (lr * wd)`` steps). The trainer keeps the last short batch,
    hence the ceiling.

    Args:
        recipe: RunSpec fields with ``epochs`` and ``size`` (examples per split part, the training set);
            ``batch_size`` defaults to the trainer's 128.

    Raises:
        ValueError: when ``epochs`` or ``size`` is missing or not a positive integer.
    """
    for k in ("epochs", "size"):
        v = recipe.get(k)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"the recipe's {k!r} must be a positive integer to count SGD steps, got {v!r}")
    batch = recipe.get("batch_size", 128)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"the recipe's 'batch_size' must be a positive integer, got {batch!r}")
    return int(recipe["epochs"]) * math.ceil(int(recipe["size"]) / batch)


def steps_text(experiment: str, reference: str = "cifar10-cpu") -> str:
    """``"batch 16 for 800 epochs: 25,600 SGD steps, 128 times cifar10-cpu's 200"``.

    A named experiment's recipe in SGD steps (:func:`sgd_steps`), against a reference experiment's
    (chapters 6, 8 and 11 say how much longer their long CPU image recipe trains than ``cifar10-cpu``;
    the paper's CIFAR run takes about 35,000 steps). An experiment that trains on all of the data set
    (``size`` None, the paper's recipes) gives ``"batch 128 for 300 epochs on all of the data set"``: its
    step count needs the data set loaded.

    Args:
        experiment: a named experiment (``"evidence-table1-cifar10-cpu-800"``).
        reference: the named experiment to compare with.
    """
    _, recipe = image_recipe(experiment, {})
    _, ref = image_recipe(reference, {})
    if recipe.get("size") is None:  # all of the data set per part: its size is known only once loaded
        return f"batch {recipe.get('batch_size', 128)} for {recipe['epochs']} epochs on all of the data set"
    n, n_ref = sgd_steps(recipe), sgd_steps(ref)
    ratio = n / n_ref
    times = f"{ratio:,.0f}" if abs(ratio - round(ratio)) < 0.05 else f"{ratio:,.1f}"
    return (f"batch {recipe.get('batch_size', 128)} for {recipe['epochs']} epochs: {n:,} SGD steps, "
            f"{times} times {reference}'s {n_ref:,}")  # fmt: skip
