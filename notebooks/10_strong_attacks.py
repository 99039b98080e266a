# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 10. CCL against a strong attacker
#
# The paper measures privacy with *average-case* attacks: one threshold or one attack classifier
# for all examples, scored by the membership advantage (Eq. 2) {cite}`liu2024ccl`.
# {cite:t}`carlini2022first` argue that this misses what matters: an attack that is right about a
# *few* members *with certainty* is a real privacy breach even when its average accuracy is near
# chance. They propose to report the **true-positive rate at a very low false-positive rate**
# (0.1 % or 1 %) on a log-log ROC curve, and an attack built for it, the **Likelihood Ratio Attack
# (LiRA)**, which calibrates the target's output on each example against *reference models*
# trained with and without that example. {cite:t}`zarifzadeh2024rmia` refine the idea into
# **RMIA**, which needs fewer reference models.
#
# This chapter runs both against the Convex-Concave Loss (CCQL, Eq. 6; CCEL, Eq. 5, by option), against
# the undefended model, against RelaxLoss {cite}`chen2022relaxloss` and against DP-SGD
# {cite}`abadi2016dpsgd` (through Opacus {cite}`yousefpour2021opacus`), on Location with the MLP
# and on the book's memorizing CIFAR-10 regime (`cifar10-cpu`: a ResNet-8 with BatchNorm that fits
# its 500 training images), and puts a bootstrap interval on every number.
#
# **Learning goals.** After this chapter you can
#
# - explain why TPR at a low FPR, on a log-log ROC curve, measures a different risk than the
#   advantage, and what limits the smallest FPR one can measure;
# - describe what LiRA and RMIA compute from reference models, and what the attacker must know
#   to train them (the threat model: the training algorithm, here including the defense);
# - read bootstrap intervals of TPR at low FPR and tell an effect from noise;
# - say what CCL does and does not promise against such an attacker, and what DP-SGD's
#   $\varepsilon$ does.
#
# **Prerequisites.** Chapter 1 (the threat model, shadow models, ROC curves), chapter 5 (what CCL
# does to the training-loss variance at each $\alpha$), the glossary's entries on LiRA, RMIA and
# DP-SGD.
#
# **Reproduce / rescale.** The defaults are sized for CI (a few minutes on 2 CPU cores): few
# reference models, the CPU-sized training sets, one seed. A run closer to the literature (16
# reference models, 1,250 Location training examples, three seeds, every defense on both data sets) is
#
# ```bash
# papermill 10_strong_attacks.ipynb out.ipynb -p k 16 -p image_k 16 -p location_size 1250 \
#     -p seeds "[0, 1, 2]" -p location_defenses '["vanilla", "CCEL", "CCQL", "RelaxLoss", "DP-SGD"]' \
#     -p image_defenses '["vanilla", "CCEL", "CCQL", "RelaxLoss", "DP-SGD"]'
# ```
#
# which trains 3 x 2 x 5 x 17 = 510 models: most of a day on 2 CPU cores (the ResNet-8 models
# dominate), about an hour on one GPU (every model is trained on CUDA when present).
#
# **Where the numbers come from.** Nothing here is read from the evidence ledger: a target with its
# $K$ reference models is not a run the ledger records, so every model of this chapter is trained in
# the build, on the machine that builds the book ({glue:text}`ch10_n_models` models in
# {glue:text}`ch10_wall:.0f` s in this build); `-p evidence compute` does not apply.

# %% tags=["parameters"]
# the tabular target: a data set of ccl_lib.data, with the MLP of chapters 1-9
tabular = "location"
# its training-set size (as many non-member candidates; population 2x)
location_size = 1000
# its SGD epochs, learning rate and batch size (the paper's recipe otherwise: momentum 0.9,
# weight decay 5e-4)
location_epochs = 20
location_lr = 0.1
location_batch_size = 128
# reference models per Location target (each trains on half of the candidates)
k = 4
# defenses on Location (labels of defense_specs below)
location_defenses = ["vanilla", "CCQL", "RelaxLoss", "DP-SGD"]
# the image target: a named experiment of ccl_lib (python -m ccl_lib show cifar10-cpu);
# "" skips the image part
image_experiment = "cifar10-cpu"
# overrides of that experiment's settings, as `python -m ccl_lib run cifar10-cpu --set key=value`
# (e.g. {"epochs": 5})
image_set = {}
# reference models per image target
image_k = 2
# defenses on the image data (each costs image_k + 1 ResNet-8 trainings)
image_defenses = ["vanilla", "CCQL"]
# one target (and its own split and reference models) per seed
seeds = [0]
# who trains the reference models: "matched" (the target's defense and recipe) or "mismatched"
# (plain cross-entropy)
attacker = "matched"
# CCEL / CCQL alpha (Table 1 setting); the loss scale is App. E.1's for the data set
# (0.01 on CIFAR-10)
ccl_alpha = 0.5
# RelaxLoss target loss level
relaxloss_alpha = 1.0
# DP-SGD noise sigma, clipping norm C and the delta of the reported epsilon
dp_noise_multiplier = 1.0
dp_max_grad_norm = 1.0
dp_delta = 1e-5
# LiRA's global variance (recommended below 64 reference models)
fixed_variance = True
# RMIA's offline correction a: "tune" on the attacker's reference models (needs K >= 4), else
# this value
rmia_a = "tune"
# the value of a where K < 4 leaves nothing to tune on
rmia_a_fixed = 0.3
# bootstrap replicates per interval and their coverage
n_boot = 1000
level = 0.95

# %% tags=["remove-input"]
# %matplotlib inline
from ccl_lib import book

book.setup()
from ccl_lib.parameters import check_parameters

globals().update(check_parameters("10_strong_attacks", globals()))

# %% tags=["remove-input"]
import time

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from ccl_lib import plots
from ccl_lib.analysis import strong
from ccl_lib.analysis.findings import glue_findings
from ccl_lib.attacks.strong import run_strong_specs, strong_attack_table, strongest_attacks
from ccl_lib.formatting import format_table

# %% [markdown]
# ## The attacker's toolkit
#
# Both attacks assume what the paper's threat model already grants (Sec. 2): black-box queries,
# knowledge of the architecture, of the training algorithm (here: of the defense and its
# hyperparameters) and data from the same distribution. The attacker uses its data to train $K$
# **reference models** exactly as the target was trained, each on a random half of a pool that
# contains the examples it wants to test; it records which model saw which example (the
# membership matrix, $K \times n_{\text{pool}}$). For each example, the models split into IN
# models (trained on it) and OUT models. Every example is IN for exactly $K/2$ models here
# ({func}`ccl_lib.attacks.reference.sample_membership`, `pkeep = 0.5` as in Carlini et al.'s
# code), so each reference model trains on as many examples as the target. Training them with plain
# cross-entropy instead is a weaker, *mismatched* attacker (`attacker = "mismatched"`, exercise 2).
#
# ### LiRA
#
# LiRA looks at one number per example, the logit-scaled confidence
# $\phi = \log\frac{p_y}{1 - p_y}$, which is close to Gaussian across training runs
# {cite}`carlini2022first`. It fits $\mathcal N(\mu_{\text{in}}, \sigma_{\text{in}}^2)$ to the
# IN models' $\phi$ and $\mathcal N(\mu_{\text{out}}, \sigma_{\text{out}}^2)$ to the OUT models'
# and scores the target's $\phi$:
#
# - **online**: the likelihood ratio
#   $\log \mathcal N(\phi; \mu_{\text{in}}, \sigma_{\text{in}}^2) - \log \mathcal N(\phi; \mu_{\text{out}}, \sigma_{\text{out}}^2)$;
# - **offline** (no IN model needed): the one-sided test
#   $\Lambda = 1 - \Pr[Z > \phi]$, $Z \sim \mathcal N(\mu_{\text{out}}, \sigma_{\text{out}}^2)$;
# - **fixed variance**: one $\sigma_{\text{in}}$ and one $\sigma_{\text{out}}$ for all examples,
#   which is more stable than per-example variances with few models.
#
# ccl_lib estimates $\mu_{\text{in}}$ and $\mu_{\text{out}}$ as means over every IN and OUT model
# and queries each example once. The LiRA authors' code takes medians over equal IN/OUT counts,
# uses the IN spread for both Gaussians, and queries each image and its mirror (attack
# `lira_reference`); chapter 12 measures the difference on the same reference models.
#
# The per-example calibration is the point: an example that every model fits well (a typical
# "easy" example) gets a high $\mu_{\text{out}}$, so a high confidence on it is no evidence of
# membership; an atypical example on which the target is unusually confident is.
#
# ### RMIA
#
# RMIA {cite}`zarifzadeh2024rmia` compares a candidate $x$ with population samples $z$ (the
# attacker's own data) through
# $\mathrm{LR}(x, z) = \frac{\Pr(x \mid \theta) / \Pr(x)}{\Pr(z \mid \theta) / \Pr(z)}$, where
# $\Pr(x \mid \theta)$ is the target's probability of the true class and $\Pr(x)$ its average
# over reference models; the score is the fraction of $z$ that $x$ dominates,
# $\Pr_z[\mathrm{LR}(x, z) \ge \gamma]$ with $\gamma = 1$. In the **offline** attack used here,
# only OUT models are available, and $\Pr(x) \approx \frac12\big((1 + a)\Pr_{\text{OUT}}(x) + (1 - a)\big)$
# corrects for the missing IN models; $a$ is chosen, as in the authors' code, by attacking one of
# the attacker's own reference models with the others ({func}`ccl_lib.attacks.rmia.tune_offline_a`).
# Tuning needs at least four reference models (with two, a pseudo-target's non-members have no OUT
# model left); with fewer, $a$ is fixed at `rmia_a_fixed` = 0.3.
#
# ### Scores and decisions
#
# LiRA and RMIA produce a *score* per example; the ROC curve, the AUC and the TPR at a fixed FPR
# need no threshold. The advantage needs a decision: the threshold here is the one at which the
# attacker's own reference models reach the FPR, chosen without the target's labels
# (`advantage`), with the threshold chosen on the target itself beside it as the oracle upper
# bound (`advantage_oracle`), as in chapter 1.

# %% [markdown]
# ## The experiment
#
# For each data set and seed, the data are split into four stratified parts of equal size: the
# target's **members** (its training set), as many **non-member candidates**, and two parts of
# **population** data for the attacker ({func}`ccl_lib.attacks.reference.attack_pool`). Then, for
# each defense, {func}`ccl_lib.attacks.strong.run_strong_attacks` trains the target with the
# defense, trains the $K$ reference models (by default with the *same* defense and recipe),
# queries the target on the pool, and runs online LiRA, offline LiRA and offline RMIA. Each attack
# scores the candidates; its ROC curve, TPR at 0.1 % and 1 % FPR, AUC and advantage are computed on
# the members vs the non-members, with stratified bootstrap intervals
# ({func}`ccl_lib.stats.bootstrap_ci`: members and non-members are resampled separately).
#
# The image target follows the recipe of the named experiment `image_experiment`
# (`cifar10-cpu`: ResNet-8, 500 images per part, 50 epochs without augmentation, learning rate
# 0.1 with the paper's milestones scaled, CCL at App. E.1's scale 0.01), the recipe chapters 4, 6
# and 11 use; it costs $K + 1$ ResNet-8 trainings per defense, so the default runs two defenses
# with $K = 2$ there.

# %% tags=["remove-input"]
defense_specs = strong.strong_defense_specs(
    ccl_alpha=ccl_alpha, relaxloss_alpha=relaxloss_alpha, dp_noise_multiplier=dp_noise_multiplier,
    dp_max_grad_norm=dp_max_grad_norm, dp_delta=dp_delta,
)  # fmt: skip
tabular_recipe = dict(size=location_size, epochs=location_epochs, lr=location_lr, batch_size=location_batch_size)
entries = strong.strong_entries(
    defense_specs, seeds, tabular=tabular, tabular_recipe=tabular_recipe, k=k, tabular_defenses=location_defenses,
    image_experiment=image_experiment, image_set=image_set, image_k=image_k, image_defenses=image_defenses,
)  # fmt: skip
attack_options = dict(fixed_variance=fixed_variance, rmia_a=rmia_a, rmia_a_fixed=rmia_a_fixed)

# %%
t_start = time.perf_counter()
runs = run_strong_specs(entries, attacker=attacker, **attack_options)  # (setting, defense, seed) -> StrongAttackRun
wall = time.perf_counter() - t_start

# %% [markdown]
# The targets: training and test accuracy, DP-SGD's spent $\varepsilon$ at $\delta$ = `dp_delta`,
# and the wall time of each setting (target, reference models, attacks):

# %% tags=["remove-input"]
n_models = int(sum(r.refs.k + 1 for r in runs.values()))
format_table(strong.targets_frame(runs))

# %% [markdown]
# ## Log-log ROC curves
#
# On a log-log scale the low-FPR corner, where a confident attacker lives, takes half of the plot.
# The dotted diagonal is guessing. The smallest false-positive rate that can be measured is
# $1 / n_{\text{out}}$ (one false positive); each panel starts there.

# %%
first_seed = seeds[0]
all_defenses = list(dict.fromkeys([*location_defenses, *image_defenses]))
fig = plots.strong_roc_panels(runs, strong.ATTACK_TITLES, seed=first_seed, defenses=all_defenses)
display(fig)
plt.close(fig)

# %% [markdown]
# ## TPR at low FPR, with intervals
#
# For every data set and defense, the strongest attack (the highest TPR at 1 % FPR) with its TPR at
# 0.1 % and 1 % FPR and their 95 % bootstrap intervals. `min FPR` is $1/n_{\text{out}}$: when it
# exceeds 0.1 %, "TPR at 0.1 % FPR" is the TPR at zero false positives. The full tables, every
# attack with its AUC, and every attack with both advantages, are in the dropdown below the figure.

# %% tags=["remove-input"]
results = strong_attack_table(runs, n_boot=n_boot, level=level)
best = strongest_attacks(results[results["seed"] == first_seed], by="tpr@1%")

# %%
fig = plots.tpr_intervals(best, list(dict.fromkeys(e[0] for e in entries)), all_defenses)
display(fig)
plt.close(fig)

# %% tags=["remove-input"]
display(strong.interval_cells(best, by_seed=False, measures=("tpr@0.1%", "tpr@1%", "auc")))

# %% tags=["hide-output"]
display(strong.interval_cells(results, measures=("tpr@0.1%", "tpr@1%", "auc")))
strong.interval_cells(results, measures=("advantage", "advantage_oracle"))

# %% [markdown]
# ### Several seeds
#
# A bootstrap interval covers the sampling of members and non-members for *one* target model;
# retraining with another seed (another split, another initialization, other reference models)
# moves the numbers too. With three or more `seeds`, the table below gives the mean over seeds of the
# strongest attack's TPR at 1 % FPR with its 95 % t-interval ({func}`ccl_lib.verdicts.seed_interval`).

# %% tags=["remove-input"]
if len(seeds) >= 2:
    display(format_table(strong.seed_spread(results)))
else:
    display(
        Markdown(
            f"*One seed ({first_seed}): the bootstrap intervals above are the only intervals; rerun with "
            f'`-p seeds "[0, 1, 2]"` for the spread over seeds.*'
        )
    )

# %% tags=["remove-input"]
# Values for "What we saw".
tags = {"loc": tabular, "img": image_experiment}
image_model = next((e[2].resolved_model for e in entries if e[0] == image_experiment), "none")
extra = {"image_model": image_model, "n_models": n_models, "wall": float(wall)}
_ = glue_findings(
    "ch10", {**strong.strong_findings(runs, results, best, settings=tags, first_seed=first_seed), **extra}
)

# %% [markdown]
# ## What CCL does and does not protect
#
# - **CCL reshapes the loss distribution; it does not limit what a model memorizes.** Theorem 3.2
#   says a concave term *raises* the variance of the members' losses, which is what one
#   average-case threshold sees; chapter 5 measures whether it does at this scale (in its default
#   runs it does not at $\alpha \ge 0.5$, where the models fit their members as cross-entropy does).
#   LiRA and RMIA do not use one threshold: they compare each example with reference models trained
#   by the *same* algorithm, CCL included, so a change that CCL makes to every model's losses is
#   calibrated away. What remains is the per-example difference between being trained on an example
#   and not -- memorization -- and nothing in CCL bounds it.
# - **Privacy on average is not privacy at low FPR.** The paper's advantage (Eq. 2) summarizes the
#   whole ROC curve by one operating point; a defense can move that point and leave the low-FPR
#   corner, where the attacker is *sure*, where it was.
# - **Only DP-SGD comes with a guarantee**, and only its $\varepsilon$ says how strong it is: the
#   bound $e^{\varepsilon} - 1$ on the advantage of any attack {cite}`yeom2018privacy` is vacuous
#   (above 1) for $\varepsilon$ above $\ln 2 \approx 0.69$, and the spent $\varepsilon$ of a short,
#   accuracy-preserving CPU run is far above it; the table shows what DP-SGD does in practice and
#   what it costs in accuracy.
# - **Few reference models make a weak attacker.** Online LiRA estimates $\mu_{\text{in}}$ from
#   $K/2$ models; {cite:t}`carlini2022first` find it the strongest attack with 64 or more. Every TPR
#   of this chapter is a *lower bound* on what a better-equipped attacker achieves.
#
# ## What we saw
#
# *Written for the default run (seed 0); the numbers are glued from the tables above.*
#
# **Location.** Against the undefended MLP ({glue:text}`ch10_loc_van_acc:.1%` test accuracy), the
# strongest attack ({glue:text}`ch10_loc_van_attack`) finds {glue:text}`ch10_loc_van_tpr1_ci` of
# the members at 1 % FPR and {glue:text}`ch10_loc_van_tpr01_ci` at 0.1 % FPR. CCQL's strongest attack
# finds {glue:text}`ch10_loc_ccql_tpr1_ci` at 1 % FPR, an interval {glue:text}`ch10_loc_ccql_vs`
# the undefended model's; RelaxLoss's {glue:text}`ch10_loc_relaxloss_tpr1_ci`
# ({glue:text}`ch10_loc_relaxloss_vs`); DP-SGD's
# ($\varepsilon$ = {glue:text}`ch10_dp_eps:.1f`) {glue:text}`ch10_loc_dpsgd_tpr1_ci`, at
# {glue:text}`ch10_loc_dpsgd_acc:.1%` test accuracy.
#
# **CIFAR-10 (`cifar10-cpu`).** The undefended {glue:text}`ch10_image_model` fits its members
# ({glue:text}`ch10_img_vanilla_train:.1%` training accuracy, {glue:text}`ch10_img_van_acc:.1%` test
# accuracy); its strongest attack ({glue:text}`ch10_img_van_attack`) finds
# {glue:text}`ch10_img_van_tpr1_ci` of the members at 1 % FPR. CCQL's finds
# {glue:text}`ch10_img_ccql_tpr1_ci` ({glue:text}`ch10_img_ccql_vs` the undefended model's
# interval) -- but read its accuracies first: with App. E.1's loss scale 0.01 the CCQL model reaches
# {glue:text}`ch10_img_ccql_train:.1%` training and {glue:text}`ch10_img_ccql_acc:.1%` test accuracy
# in the same 50 epochs. A model that has not fitted its members leaks little to any attack; the
# scale factor acts as a 100x smaller learning rate with a 100x larger weight decay (chapter 11), and
# this comparison is one of a defense against an undertrained model, not evidence that the concave
# term protects. With {glue:text}`ch10_img_n_out` non-members the smallest measurable FPR there is
# {glue:text}`ch10_img_min_fpr:.1%`: the 0.1 % column is the TPR at zero false positives.
#
# ## Takeaways
#
# - TPR at low FPR asks "how many members can the attacker name with near certainty?"; the
#   advantage asks "how good is the best single threshold on average?" -- a defense can improve the
#   second and leave the first.
# - The smallest FPR one can measure is one false positive, $1/n_{\text{out}}$: reporting TPR at
#   0.01 % needs at least 10,000 non-members.
# - LiRA and RMIA need reference models trained the way the target was; an attacker who knows
#   the defense calibrates it away.
# - Only DP-SGD bounds every attack, and only when $\varepsilon$ is small; the $\varepsilon$ of a
#   useful model at this scale bounds nothing.
#
# ## Exercises
#
# :::{exercise}
# :label: ch10-ex1
#
# **Size:** project (a GPU, or days of CPU). **Needs:** chapter 1 and this one.
#
# **Attack at 0.01 % FPR.** What does it take to report TPR at 0.01 % FPR with an interval that
# means something? Rerun the image part with enough non-members for it and 16 reference models.
# :::
#
# :::{solution} ch10-ex1
# :class: dropdown
#
# One false positive among $n_{\text{out}}$ non-members is an FPR of $1/n_{\text{out}}$, so 0.01 %
# needs $n_{\text{out}} \ge 10{,}000$, and an interval needs many times that. CIFAR-10's 60,000
# images give at most 15,000 per part (four parts: members, candidates, population):
#
# ```bash
# papermill 10_strong_attacks.ipynb out.ipynb -p tabular "" -p image_k 16 \
#     -p image_set '{"size": 12500}' -p image_defenses '["vanilla", "CCQL"]'
# ```
#
# That is 34 ResNet-8 trainings on 12,500 images each: a GPU job (under an hour on one H100-class
# GPU), days on 2 CPU cores. Read the TPR at 0.01 % next to its bootstrap interval: with
# $n_{\text{out}} = 12{,}500$ an FPR of 0.01 % is 1.25 false positives, so the estimate of the TPR
# there rests on the one or two highest-scoring non-members and its interval is wide; Carlini et
# al. report such numbers over 25,000 non-members and 256 reference models.
# :::
#
# :::{exercise}
# :label: ch10-ex2
#
# **Size:** homework (1 h). **Needs:** this chapter.
#
# **A mismatched attacker.** Train the reference models with plain cross-entropy
# (`-p attacker mismatched`) and compare the strongest attack on the CCQL target with the matched
# attacker's.
# :::
#
# :::{solution} ch10-ex2
# :class: dropdown
#
# ```bash
# papermill 10_strong_attacks.ipynb out.ipynb -p attacker mismatched -p location_defenses '["vanilla", "CCQL"]' -p image_experiment ""
# ```
#
# For the undefended target nothing changes: its reference models were cross-entropy models
# anyway. For the CCQL target, the mismatched attacker's reference models fit their members with a
# different loss, so their IN and OUT distributions of $\phi$ need not be the target's, and the
# per-example calibration can be off. In the default run (Location, CCQL, seed 0,
# $K$ = {glue:text}`ch10_ex2_k`) the strongest attack finds {glue:text}`ch10_ex2_matched` of the
# members at 1 % FPR with matched reference models and {glue:text}`ch10_ex2_mismatched` with
# mismatched ones: the mismatched attacker's interval is {glue:text}`ch10_ex2_relation` the matched
# one's. Where CCL's models fit their members about as cross-entropy's do (chapter 5 at
# $\alpha = 0.5$), cross-entropy reference models are a fair stand-in and the attacker loses little
# by not knowing the defense; expect the gap to open where CCL changes the fit (small $\alpha$, or
# the CIFAR scale factor). Either way, a defense should be evaluated against the attacker who knows
# it: Carlini et al.'s threat model, and the book's default.
# :::
#
# :::{exercise}
# :label: ch10-ex3
#
# **Size:** homework (2 h). **Needs:** this chapter.
#
# **More reference models.** Online LiRA needs IN models for every example. Rerun Location with
# $K$ = 4, 8 and 16 and plot the online and offline attacks' TPR at 1 % FPR against $K$.
# :::
#
# :::{solution} ch10-ex3
# :class: dropdown
#
# ```bash
# for K in 4 8 16; do
#   papermill 10_strong_attacks.ipynb out_$K.ipynb -p k $K -p image_experiment "" -p location_defenses '["vanilla", "CCQL"]'
# done
# ```
#
# Each Location model trains in seconds, so $K = 16$ is a few CPU minutes. In the default run
# online LiRA has the lower AUC for {glue:text}`ch10_online_weaker` of the
# {glue:text}`ch10_n_targets` targets: with $K/2$ = 2 IN models per example its estimate of
# $\mu_{\text{in}}$ is noisy. Expect online LiRA to overtake the offline attack as $K$ grows
# (Carlini et al., Fig. 9), and every TPR to rise: the defaults of this chapter are a lower bound on
# the risk.
# :::

# %% tags=["remove-input"]
own = alt = None
if tabular and "CCQL" in location_defenses:
    ccql = [e for e in entries if e[0] == tabular and e[1] == "CCQL" and e[2].seed == first_seed]
    other = "mismatched" if attacker == "matched" else "matched"
    alt_run = run_strong_specs(ccql, attacker=other, **attack_options)
    alt = strongest_attacks(strong_attack_table(alt_run, n_boot=n_boot, level=level), by="tpr@1%").iloc[0]
    own = best[(best["dataset"] == tabular) & (best["defense"] == "CCQL")].iloc[0]
_ = glue_findings("ch10", strong.exercise_findings(own, alt, attacker=attacker, k=k))
