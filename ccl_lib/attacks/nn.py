"""Neural-network-based attacks (Shokri et al., 2017; Salem et al., 2019; Sec. 5.1 of the paper).

An *attack classifier* learns to tell the shadow model's outputs on its
members (shadow train) from those on its non-members (shadow test); it is then
applied to the target model's outputs on the target's members and non-members.

* ``nn`` -- input: the full probability vector and the one-hot true label
  (Shokri et al., 2017, with one attack model for all classes as in Hu et al.,
  2022 / ML-Doctor instead of one per class);
* ``nn_sorted`` -- input: the probability vector sorted in decreasing order,
  label-free (Salem et al., 2019).

The classifier (:func:`train_attack_classifier`) is a small seeded MLP trained
with Adam on standardized features; it is shared with the augmentation attacks
(:mod:`ccl_lib.attacks.augmentation`) through :func:`classifier_attack`.  Its
membership score is the classifier's logit and its decision ``logit >= 0``.

``nn_release`` is the CCL release's NN attack instead (:func:`release_nn_attack`):
probabilities only (no label), a 64-32-2 MLP, Adam for 100 epochs -- weaker than ``nn``.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Any, Iterator, Optional, Union

import numpy as np
import torch
import torch.nn as tnn
import torch.nn.functional as F

from .base import AttackContext, AttackResult, register_attack

__all__ = [
    "NN_INPUTS",
    "AttackClassifier",
    "ClassifierConfig",
    "classifier_attack",
    "nn_attack",
    "nn_features",
    "release_mlp_info",
    "release_mlp_logits",
    "release_nn_attack",
    "train_attack_classifier",
]

Tensor = torch.Tensor

#: What the NN attack feeds its classifier: probabilities (Shokri et al.), log-probabilities, or raw logits.
NN_INPUTS = ("prob", "logprob", "logit")


@dataclass(frozen=True)
class ClassifierConfig:
    """Hyperparameters of the attack classifier (a small MLP trained with Adam).

    Attributes:
        hidden: widths of the hidden ReLU layers (each >= 1); default two layers of 64.
        steps: number of Adam steps (>= 1), each on one class-balanced minibatch.
        batch_size: minibatch size (>= 1), half members and half non-members.
        lr: Adam learning rate (> 0).
        weight_decay: Adam's L2 weight decay (>= 0).
    """

    hidden: tuple[int, ...] = (64, 64)
    steps: int = 800
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden layer widths must be positive, got {self.hidden}")
        if not (isinstance(self.steps, int) and self.steps >= 1):
            raise ValueError(f"steps must be a positive integer, got {self.steps!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if not (self.lr > 0) or self.weight_decay < 0:
            raise ValueError(f"need lr > 0 and weight_decay >= 0, got {self.lr!r}, {self.weight_decay!r}")


class AttackClassifier:
    """A trained attack classifier: standardization and an MLP; ``logits(features)`` scores queries.

    Built by :func:`train_attack_classifier`; not meant to be constructed by hand.

    Args:
        net: the trained MLP, mapping standardized (n, d) features to (n, 1) member logits.
        mean: (1, d) per-feature mean of the training features (standardization).
        std: (1, d) per-feature standard deviation (1 for constant features).
        device: where ``net``, ``mean`` and ``std`` live and where queries are scored.
    """

    def __init__(self, net: tnn.Module, mean: Tensor, std: Tensor, device: torch.device) -> None:
        self.net, self.mean, self.std, self.device = net, mean, std, device

    @torch.inference_mode()
    def logits(self, features: Any, batch_size: int = 65536) -> np.ndarray:
        """Member logits (float64) of (n, d) features; ``>= 0`` means "member".

        Args:
            features: (n, d) array or tensor with the width the classifier was trained on
                (a 1-d array is read as one feature per row); finite values only.
            batch_size: rows scored per forward pass (memory only; the result does not depend on it).
        """
        f = _as_features(features, "features")
        if f.shape[1] != self.mean.shape[1]:
            raise ValueError(f"the classifier was trained on {self.mean.shape[1]} features, got {f.shape[1]}")
        self.net.eval()
        out = []
        for i in range(0, len(f), batch_size):
            xb = (torch.from_numpy(f[i : i + batch_size]).to(self.device) - self.mean) / self.std
            out.append(self.net(xb)[:, 0].double().cpu())
        return torch.cat(out).numpy() if out else np.zeros(0)


def _as_features(a: Any, what: str) -> np.ndarray:
    f = a.detach().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a)
    if f.ndim == 1:
        f = f[:, None]
    if f.ndim != 2 or len(f) == 0:
        raise ValueError(f"{what} must be a non-empty (n, d) array, got shape {f.shape}")
    f = np.ascontiguousarray(f, dtype=np.float32)
    if not np.isfinite(f).all():
        raise ValueError(f"{what} contains NaN or inf")
    return f


def train_attack_classifier(
    features_in: Any,
    features_out: Any,
    *,
    seed: int = 0,
    device: Union[str, torch.device, None] = None,
    config: ClassifierConfig = ClassifierConfig(),
) -> AttackClassifier:
    """Train a binary member/non-member classifier on shadow features (Shokri et al., 2017).

    Args:
        features_in: (n_in, d) features of the shadow model's members.
        features_out: (n_out, d) features of its non-members.
        seed: seeds the initialization and the minibatches (global RNGs untouched).
        device: where to train (default CPU).
        config: :class:`ClassifierConfig`.

    Minibatches are drawn class-balanced (half members, half non-members), so
    the classifier's 0.5 threshold targets balanced accuracy.
    """
    f_in, f_out = _as_features(features_in, "features_in"), _as_features(features_out, "features_out")
    if f_in.shape[1] != f_out.shape[1]:
        raise ValueError(f"member and non-member features differ in width: {f_in.shape[1]} vs {f_out.shape[1]}")
    if not isinstance(config, ClassifierConfig):
        raise TypeError(f"config must be a ClassifierConfig, got {type(config).__name__}")
    dev = torch.device(device) if device is not None else torch.device("cpu")
    d = f_in.shape[1]
    allf = np.concatenate([f_in, f_out])
    mean = torch.from_numpy(allf.mean(0, keepdims=True)).to(dev)
    sd = allf.std(0, keepdims=True)
    std = torch.from_numpy(np.where(sd > 1e-6, sd, 1.0).astype(np.float32)).to(dev)  # constant columns: no scaling
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(int(seed))
        layers: list[tnn.Module] = []
        width = d
        for h in config.hidden:
            layers += [tnn.Linear(width, h), tnn.ReLU()]
            width = h
        layers.append(tnn.Linear(width, 1))
        net = tnn.Sequential(*layers)
    with _few_threads(dev):
        _fit(net, f_in, f_out, mean, std, dev, int(seed), config)
    net.eval()
    return AttackClassifier(net, mean, std, dev)


@contextlib.contextmanager
def _few_threads(dev: torch.device) -> Iterator[None]:
    """One intra-op thread while training the tiny MLP on a CPU (threads only add contention there)."""
    if dev.type != "cpu":
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _fit(
    net: tnn.Module, f_in: np.ndarray, f_out: np.ndarray, mean: Tensor, std: Tensor,
    dev: torch.device, seed: int, config: ClassifierConfig,
) -> None:  # fmt: skip
    net.to(dev).train()
    x_in = (torch.from_numpy(f_in).to(dev) - mean) / std
    x_out = (torch.from_numpy(f_out).to(dev) - mean) / std
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(seed + 1)
    half = max(1, config.batch_size // 2)
    target = torch.cat([torch.ones(half), torch.zeros(half)]).to(dev)
    for _ in range(config.steps):
        i_in = torch.randint(0, len(x_in), (half,), generator=gen).to(dev)
        i_out = torch.randint(0, len(x_out), (half,), generator=gen).to(dev)
        xb = torch.cat([x_in[i_in], x_out[i_out]])
        loss = F.binary_cross_entropy_with_logits(net(xb)[:, 0], target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def classifier_attack(
    name: str,
    shadow_in: Any,
    shadow_out: Any,
    target_in: Any,
    target_out: Any,
    *,
    seed: int = 0,
    device: Union[str, torch.device, None] = None,
    config: ClassifierConfig = ClassifierConfig(),
    info: Optional[dict] = None,
) -> AttackResult:
    """Train an attack classifier on the shadow features, score the target features.

    The classifier never sees target features while training; its scores on
    the target's members and non-members are its logits and its decisions are
    ``logit >= 0``.

    Args:
        name: the attack's name in the report (:attr:`AttackResult.name`).
        shadow_in: (n, d) features of the shadow model's members (training set).
        shadow_out: (m, d) features of the shadow model's non-members.
        target_in: (n', d) features of the target model's members (scored only).
        target_out: (m', d) features of the target model's non-members (scored only).
        seed: seeds the classifier's initialization and minibatches.
        device: where to train and score (default CPU).
        config: the classifier's :class:`ClassifierConfig`.
        info: extra entries merged into :attr:`AttackResult.info` (e.g. the feature kind).
    """
    clf = train_attack_classifier(shadow_in, shadow_out, seed=seed, device=device, config=config)
    s_in = clf.logits(_as_features(target_in, "target_in"))
    s_out = clf.logits(_as_features(target_out, "target_out"))
    meta = {"classifier": {"kind": "mlp", **asdict(config)}, "trained_on": "shadow model (shadow train vs shadow test)"}
    meta.update(info or {})
    return AttackResult(name, s_in, s_out, s_in >= 0.0, s_out >= 0.0, meta)


def nn_features(logits: Any, y: Any, *, sort: bool = False, inputs: str = "prob") -> np.ndarray:
    """Attack-classifier features from a model's outputs.

    Args:
        logits: (n, K) outputs of the queried model.
        y: (n,) true labels (appended one-hot unless ``sort``).
        sort: sort the vector in decreasing order and drop the label (Salem et al., 2019).
        inputs: one of :data:`NN_INPUTS`: ``"prob"`` (softmax, Shokri et al.),
            ``"logprob"`` (log-softmax) or ``"logit"``.

    Returns:
        (n, 2K) float32 features (vector, one-hot label), or (n, K) when ``sort``.
    """
    if inputs not in NN_INPUTS:
        raise ValueError(f"inputs must be one of {NN_INPUTS}, got {inputs!r}")
    z = torch.as_tensor(logits)
    t = torch.as_tensor(y)
    if z.dim() != 2 or z.shape[1] < 2 or not z.is_floating_point():
        raise ValueError(f"logits must be a float (n, K) tensor with K >= 2, got shape {tuple(z.shape)}")
    if t.dim() != 1 or len(t) != len(z) or t.is_floating_point():
        raise ValueError(f"y must be 1-d integer labels, one per row of logits ({len(z)})")
    z = z.detach().cpu().double()
    if inputs == "prob":
        v = torch.softmax(z, 1)
    elif inputs == "logprob":
        v = torch.log_softmax(z, 1)
    else:
        v = z
    if sort:
        return v.sort(1, descending=True).values.float().numpy()
    t = t.detach().cpu().long()
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= z.shape[1]):
        raise ValueError(f"labels must lie in 0..{z.shape[1] - 1}")
    onehot = F.one_hot(t, z.shape[1]).double()
    return torch.cat([v, onehot], 1).float().numpy()


def nn_attack(
    ctx: AttackContext,
    *,
    sort: bool = False,
    inputs: str = "prob",
    config: ClassifierConfig = ClassifierConfig(),
    name: Optional[str] = None,
) -> AttackResult:
    """NN-based attack (Shokri et al., 2017): attack classifier on the shadow model's output vectors.

    Args:
        ctx: the :class:`AttackContext` (models and balanced query sets).
        sort: feed the sorted vector without the label (Salem et al., 2019) instead of
            the vector and the one-hot label; see :func:`nn_features`.
        inputs: one of :data:`NN_INPUTS` (``"prob"``, ``"logprob"``, ``"logit"``).
        config: the attack classifier's :class:`ClassifierConfig`.
        name: the report's attack name (default ``"nn"``, or ``"nn_sorted"`` when ``sort``).
    """
    feats = {
        (r, p): nn_features(ctx.logits(r, p), ctx.labels(r, p), sort=sort, inputs=inputs)
        for r in ("shadow", "target")
        for p in ("in", "out")
    }
    info = {
        "family": "nn",
        "features": ("sorted " if sort else "")
        + {"prob": "probability", "logprob": "log-probability", "logit": "logit"}[inputs]
        + (" vector" if sort else " vector + one-hot label"),
    }
    return classifier_attack(
        name or ("nn_sorted" if sort else "nn"),
        feats["shadow", "in"], feats["shadow", "out"], feats["target", "in"], feats["target", "out"],
        seed=ctx.seed, device=ctx.device, config=config, info=info,
    )  # fmt: skip


@register_attack("nn")
def nn_full_attack(
    ctx: AttackContext, *, inputs: str = "prob", config: ClassifierConfig = ClassifierConfig()
) -> AttackResult:
    """NN attack on the full probability vector and the one-hot label (Shokri et al., 2017)."""
    return nn_attack(ctx, sort=False, inputs=inputs, config=config, name="nn")


@register_attack("nn_sorted")
def nn_sorted_attack(
    ctx: AttackContext, *, inputs: str = "prob", config: ClassifierConfig = ClassifierConfig()
) -> AttackResult:
    """NN attack on the sorted probability vector (Salem et al., 2019)."""
    return nn_attack(ctx, sort=True, inputs=inputs, config=config, name="nn_sorted")


def release_mlp_info(epochs: int) -> dict[str, Any]:
    """What :func:`release_mlp_logits` trains, for an attack's ``info`` (the CCL release's
    ``source/models/attack_model.py`` ``MLP_BLACKBOX``: 64-32-2, Adam at 1e-3, batches of 128).

    Args:
        epochs: the training epochs.
    """
    return {"kind": "mlp", "hidden": [64, 32], "outputs": 2, "optimizer": "adam", "lr": 1e-3, "epochs": epochs,
            "batch_size": 128}  # fmt: skip


def release_mlp_logits(x_in: Tensor, x_out: Tensor, evaluate: dict[Any, Tensor], *, seed: int,
                       device: Any = None, epochs: int = 100) -> dict[Any, Tensor]:  # fmt: skip
    """Train the CCL release's attack MLP on shadow features and return its 2 logits on each set of ``evaluate``.

    ``ml-stat-Sustech/ConvexConcaveLoss``: ``source/models/attack_model.py`` (``MLP_BLACKBOX``:
    d -> 64 -> 32 -> 2, ReLU), trained as ``source/attacks/membership_inference/black_box_attack.py``
    (``BlackBoxMIA.train``) and ``data_augmentation_attack.py`` (``DataAugmentationMIA.train``)
    train it: cross-entropy over member (1) / non-member (0), Adam (lr 1e-3), ``epochs`` passes over
    the shuffled features in batches of 128.  The initialization is seeded by ``seed``, the batch
    order by ``seed + 1``.

    Args:
        x_in: ``(n_in, d)`` float32 features of the shadow model's members.
        x_out: ``(n_out, d)`` features of its non-members.
        evaluate: name -> ``(m, d)`` features to score after training.
        seed: seeds the initialization and the batch order.
        device: where to train (default CPU).
        epochs: training passes (``BlackBoxMIA``: 100, ``DataAugmentationMIA``: 5).

    Returns:
        name -> ``(m, 2)`` float64 CPU logits (non-member, member).
    """
    k = x_in.shape[1]
    dev = torch.device(device) if device is not None else torch.device("cpu")
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(int(seed))
        net = tnn.Sequential(tnn.Linear(k, 64), tnn.ReLU(), tnn.Linear(64, 32), tnn.ReLU(), tnn.Linear(32, 2))
    net.to(dev).train()
    x = torch.cat([x_in, x_out]).to(dev)
    t = torch.cat([torch.ones(len(x_in)), torch.zeros(len(x_out))]).long().to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(int(seed) + 1)
    with _few_threads(dev):
        for _ in range(epochs):
            perm = torch.randperm(len(x), generator=gen).to(dev)
            for b in range(0, len(x), 128):
                idx = perm[b : b + 128]
                loss = F.cross_entropy(net(x[idx]), t[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            return {name: net(v.to(dev)).double().cpu() for name, v in evaluate.items()}


def release_nn_attack(ctx: AttackContext, *, epochs: int = 100) -> AttackResult:
    """The NN attack as the CCL release runs it (``nn_release`` in the suite).

    ``ml-stat-Sustech/ConvexConcaveLoss``: ``source/models/attack_model.py`` (``MLP_BLACKBOX``:
    K -> 64 -> 32 -> 2, ReLU) trained by ``source/attacks/membership_inference/black_box_attack.py``
    (``BlackBoxMIA.train``): the shadow model's float32 softmax vectors (no label, not sorted, not
    standardized), cross-entropy over the two classes, Adam (lr 1e-3), ``epochs`` passes over the
    shuffled shadow members and non-members in batches of 128; decision: the argmax (member iff
    its logit is strictly larger).  Score: ``logit_member - logit_non_member``.  Seeded by ``ctx.seed``.

    Args:
        ctx: the attacker's view.
        epochs: training passes (the release's ``train_epoch=100``).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    feats = {(r, p): torch.softmax(torch.as_tensor(ctx.logits(r, p)).float(), 1) for r in ("shadow", "target")
             for p in ("in", "out")}  # fmt: skip
    out = release_mlp_logits(feats["shadow", "in"], feats["shadow", "out"],
                             {p: feats["target", p] for p in ("in", "out")}, seed=ctx.seed, device=ctx.device,
                             epochs=epochs)  # fmt: skip
    s_in = (out["in"][:, 1] - out["in"][:, 0]).numpy()
    s_out = (out["out"][:, 1] - out["out"][:, 0]).numpy()
    info = {
        "family": "nn",
        "variant": "release",
        "features": "probability vector (no label)",
        "classifier": release_mlp_info(epochs),
        "follows": "ml-stat-Sustech/ConvexConcaveLoss source/attacks/membership_inference/black_box_attack.py",
    }
    return AttackResult("nn_release", s_in, s_out, s_in > 0.0, s_out > 0.0, info)


register_attack("nn_release", release_nn_attack)
