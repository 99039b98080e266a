"""Tests of ccl_lib.confound: the scale identity, the arms, the equal-accuracy comparison, Theorem 6.1's premise."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch

from ccl_lib import confound
from ccl_lib.verdicts import INCONCLUSIVE, NO_VERDICT


@pytest.mark.filterwarnings("ignore::ccl_lib.defenses.ccl.UnnormalizedScaleWarning")
def test_scaled_loss_equals_rescaled_recipe_with_the_library_trainer():
    """CE x 0.01 at (lr, wd) and CE at (lr/100, wd*100): the same SGD steps (up to float rounding)."""
    r = confound.scale_identity_check(0.01, epochs=3)
    assert r["steps"] == 3 * math.ceil(1797 / 64) and r["n_params"] > 4000
    assert r["max_rel_diff"] < 1e-5
    r = confound.scale_identity_check(0.05, defense="ccql", epochs=2)
    assert r["max_rel_diff"] < 1e-5


@pytest.mark.filterwarnings("ignore::ccl_lib.defenses.ccl.UnnormalizedScaleWarning")
def test_scaled_loss_without_the_weight_decay_change_differs():
    """Negative control: dividing only the learning rate by 1/beta (weight decay kept) moves the weights apart."""
    from ccl_lib.data import load_dataset
    from ccl_lib.defenses import get_defense
    from ccl_lib.models import MLP
    from ccl_lib.train import TrainConfig

    ds = load_dataset("digits")
    x, y = ds.features(np.arange(len(ds.y))), torch.from_numpy(ds.y).long()
    torch.manual_seed(0)
    a = MLP(64, 10, hidden=(64,))
    b = copy.deepcopy(a)
    kw = dict(epochs=2, batch_size=64, seed=0, device="cpu", track_train_loss=False)
    get_defense("ccl", alpha=1.0, scale=0.01).train(
        a, x, y, config=TrainConfig(lr=0.1, weight_decay=0.05, **kw), progress=False
    )
    get_defense("vanilla").train(b, x, y, config=TrainConfig(lr=0.001, weight_decay=0.05, **kw), progress=False)
    diff = max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters()))
    assert diff > 1e-3


def test_arms_and_their_effective_recipes():
    arms = {a.name: a for a in confound.arms(0.01, lr=0.1, weight_decay=5e-4)}
    assert list(arms) == list(confound.ARM_NAMES)
    assert arms["CE×β"].defense == "ccl" and arms["CE×β"].hparams == {"alpha": 1.0, "scale": 0.01}
    # CE x beta, CE(lr*beta, wd/beta) and CCQL x beta all take steps of the unscaled loss at (0.001, 0.05)
    for n in ("CE×β", "CE(lr·β, wd/β)", "CCQL×β"):
        assert arms[n].effective_lr == pytest.approx(1e-3) and arms[n].effective_wd == pytest.approx(0.05)
    assert arms["CCQL×1"].effective_lr == pytest.approx(0.1) and arms["CCQL×β"].label == "CCQL×0.01"
    with pytest.raises(ValueError, match="unknown arm"):
        confound.arms(0.01, names=["CE", "CE x 2"])
    with pytest.raises(ValueError, match="beta must be in"):
        confound.arms(2.0)


def test_arm_specs_share_the_unscaled_ce_run_across_betas():
    pairs = confound.arm_specs(
        "digits",
        confound.arms(0.01, names=["CE", "CCQL×β"]) + confound.arms(0.05, names=["CE", "CCQL×β"]),
        [0, 1],
        epochs=2,
    )
    keys = {(a.name, a.beta, s.seed): s.key() for a, s in pairs}
    assert keys[("CE", 0.01, 0)] == keys[("CE", 0.05, 0)]
    assert keys[("CCQL×β", 0.01, 0)] != keys[("CCQL×β", 0.05, 0)] != keys[("CE", 0.01, 0)]
    spec = dict(((a.name, a.beta, s.seed), s) for a, s in pairs)[("CCQL×β", 0.05, 1)]
    assert spec.lr == 0.1 and spec.defense_hparams()["scale"] == 0.05 and spec.seed == 1
    with pytest.raises(ValueError, match="must not set"):
        confound.arm_specs("digits", confound.arms(0.01), [0], lr=0.5)


def _frame(adv_ccl, adv_ce, acc_ccl, acc_ce, var=None):
    """A result frame with a 'loss' attack row per run and the arm columns of arm_frame."""
    rows = []
    for arm, advs, accs in (("CCQL×β", adv_ccl, acc_ccl), ("CE(lr·β, wd/β)", adv_ce, acc_ce)):
        for s, (adv, acc) in enumerate(zip(advs, accs)):
            rows.append(
                dict(
                    key=f"{arm}{s}",
                    eval_epoch=10,
                    attack="loss",
                    advantage=adv,
                    max_advantage=adv + 0.01,
                    test_acc=acc,
                    train_acc=1.0,
                    train_loss_mean=0.1,
                    train_loss_var=(var or {}).get((arm, s), 0.01),
                    seed=s,
                    dataset="d",
                    beta=0.01,
                    arm=arm,
                    arm_label=arm.replace("β", "0.01"),
                )
            )
    return pd.DataFrame(rows)


def test_equal_accuracy_comparison_decides_only_when_accuracy_is_matched():
    df = _frame([0.10, 0.11, 0.12], [0.20, 0.22, 0.21], [0.50, 0.505, 0.50], [0.50, 0.50, 0.505])
    r = confound.compare_at_equal_accuracy(df, dataset="d", beta=0.01)
    assert r["acc_diff"].high < 0.02 and r["equal_accuracy"] and r["verdict"].word == "lower"
    assert r["adv_diff"].mean == pytest.approx(-0.1) and r["n"] == 3
    # the same privacy gain bought with 20 points of accuracy: a trade-off, no verdict
    df = _frame([0.10, 0.11, 0.12], [0.20, 0.22, 0.21], [0.30, 0.31, 0.30], [0.50, 0.50, 0.51])
    r = confound.compare_at_equal_accuracy(df, dataset="d", beta=0.01)
    assert not r["equal_accuracy"] and r["verdict"].word == INCONCLUSIVE
    # CCL both more accurate and less attackable: it dominates
    df = _frame([0.10, 0.11, 0.12], [0.20, 0.22, 0.21], [0.60, 0.61, 0.60], [0.50, 0.50, 0.51])
    assert confound.compare_at_equal_accuracy(df, dataset="d", beta=0.01)["verdict"].word == "lower"
    # two seeds never decide
    df = _frame([0.10, 0.11], [0.20, 0.22], [0.50, 0.51], [0.50, 0.50])
    assert confound.compare_at_equal_accuracy(df, dataset="d", beta=0.01)["verdict"].word == NO_VERDICT


def test_arm_summary_means_and_intervals():
    df = _frame([0.10, 0.11, 0.12], [0.20, 0.22, 0.21], [0.50, 0.51, 0.52], [0.50, 0.50, 0.51])
    s = confound.arm_summary(df, attack="loss").set_index("arm")
    assert list(s.index) == ["CE(lr·β, wd/β)", "CCQL×β"]  # ARM_NAMES order
    assert s.loc["CCQL×β", "adv"] == pytest.approx(0.11) and s.loc["CCQL×β", "n"] == 3
    half = 4.302652729911275 * 0.01 / math.sqrt(3)  # t_{2,0.975} * s / sqrt(n), s = 0.01
    assert s.loc["CCQL×β", "test_acc_high"] - 0.51 == pytest.approx(half)


def test_variance_premise_spearman_against_hand_computation():
    """x = 1..5 vs y ranks (2, 1, 4, 3, 5): rho = 1 - 6 * 4 / (5 * 24) = 0.8."""
    var = {("CCQL×β", s): v for s, v in enumerate([1.0, 2.0, 3.0])}
    var.update({("CE(lr·β, wd/β)", s): v for s, v in enumerate([4.0, 5.0, 6.0])})
    df = _frame([0.2, 0.1, 0.4], [0.3, 0.5, 0.6], [0.5] * 3, [0.5] * 3, var)
    r = confound.variance_premise(df, attack="loss", n_boot=500)
    ranks_x, ranks_y = np.arange(6), np.array([1, 0, 3, 2, 4, 5])
    d2 = float(((ranks_x - ranks_y) ** 2).sum())
    assert r["rho"] == pytest.approx(1 - 6 * d2 / (6 * 35)) and r["n_runs"] == 6


def test_variance_premise_verdicts():
    var = {("CCQL×β", s): v for s, v in enumerate([1.0, 2.0, 3.0])}
    var.update({("CE(lr·β, wd/β)", s): v for s, v in enumerate([4.0, 5.0, 6.0])})
    # advantage falls with the variance: Theorem 6.1's premise holds
    df = _frame([0.6, 0.5, 0.4], [0.3, 0.2, 0.1], [0.5] * 3, [0.5] * 3, var)
    r = confound.variance_premise(df, attack="loss", n_boot=500)
    assert r["rho"] == pytest.approx(-1.0) and r["verdict"].word == "agrees"
    # advantage rises with the variance: the premise is contradicted
    df = _frame([0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.5] * 3, [0.5] * 3, var)
    assert confound.variance_premise(df, attack="loss", n_boot=500)["verdict"].word == "opposite"
    with pytest.raises(ValueError, match="at least 4 runs"):
        confound.variance_premise(df.iloc[:3], attack="loss")


def test_cifar10_cpu_named_experiment():
    """The memorizing CPU image regime: ResNet-8 (BatchNorm), 500 per part, 50 epochs, milestones at 1/2 and 3/4."""
    from ccl_lib.experiments import load_experiment

    specs = load_experiment("cifar10-cpu").specs()
    assert len(specs) == 9 and {s.defense for s in specs} == {"vanilla", "ccel", "ccql"}
    s = specs[0]
    assert (s.dataset, s.model, s.size, s.epochs, s.milestones, s.augment) == (
        "cifar10-jpeg",
        "resnet8",
        500,
        50,
        (25, 38),
        False,
    )
    assert {x.defense_hparams().get("scale") for x in specs if x.defense != "vanilla"} == {0.01}  # App. E.1
    vanilla = load_experiment("cifar10-cpu", ['defenses={"vanilla": [{}]}', "epochs=20"]).specs()
    assert len(vanilla) == 3 and vanilla[0].milestones == (10, 15)  # milestones follow --set epochs


def test_a_run_shared_by_two_betas_counts_in_both_summaries_and_once_in_the_premise():
    df = _frame([0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.5] * 3, [0.5] * 3)
    twice = pd.concat([df, df.assign(beta=0.05, arm_label=df["arm_label"].str.replace("0.01", "0.05"))])
    s = confound.arm_summary(twice)
    assert len(s) == 4 and set(s["beta"]) == {0.01, 0.05} and (s["n"] == 3).all()
    assert confound.variance_premise(twice, attack=None, n_boot=200)["n_runs"] == 6


def test_plot_arms_fits_the_book_column_with_legible_legends():
    import matplotlib

    matplotlib.use("Agg")
    from ccl_lib.plots import BOOK_WIDTH

    rows = []
    for ds in ("location", "cifar10-jpeg"):
        for i, arm in enumerate(("ce", "ccql_beta")):
            rows.append({"dataset": ds, "arm": arm, "arm_label": arm, "test_acc": 0.5 + 0.1 * i,
                         "test_acc_low": 0.45 + 0.1 * i, "test_acc_high": 0.55 + 0.1 * i,
                         "adv": 0.4 - 0.2 * i, "adv_low": 0.35 - 0.2 * i, "adv_high": 0.45 - 0.2 * i})  # fmt: skip
    fig = confound.plot_arms(pd.DataFrame(rows))
    assert fig.get_figwidth() == pytest.approx(BOOK_WIDTH)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        means = sorted(tuple(c.lines[0].get_xydata()[0]) for c in ax.containers)
        assert means == [pytest.approx((0.5, 0.4)), pytest.approx((0.6, 0.2))]
        assert min(t.get_fontsize() for t in ax.get_legend().get_texts()) >= 9
