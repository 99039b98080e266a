"""Augmentation-based attacks (Choquette-Choo et al., 2021, Sec. 4; Sec. 5.1 of the paper).

Training examples stay correctly (and confidently) classified under small
augmentations more often than unseen examples.  The attacker queries the
model on fixed augmented copies of each example and feeds the vector of
per-query results to an attack classifier trained on the shadow model
(:func:`ccl_lib.attacks.nn.classifier_attack`), then scores the target:

* ``rotation`` -- the identity and rotations by ``+-r`` degrees
  (:func:`rotation_angles`; ``steps > 1`` adds the intermediate angles
  ``+-r k/steps``, Choquette-Choo et al.'s ``2r+1`` grid for ``steps=r``);
* ``translation`` -- the identity and every shift ``(i, j)`` of ``|i| + |j| = d``
  pixels (:func:`translation_shifts`, ``4d + 1`` queries).

Per-query feature (``feature=``): ``"correctness"`` (label-only, as in
Choquette-Choo et al.; the default) or ``"probability"`` (true-class
probability ``p_y``).

The augmentations are the attacker's fixed queries, applied with
:mod:`torchvision.transforms.v2.functional` to the *normalized* batches on the
device inside :func:`ccl_lib.train.predict_logits` (eval mode; no
training-time augmentation is ever applied to a query).  Zero fill is the
data set's mean colour.  Image data only: tabular inputs get a clear error.

``rotation_release`` is the CCL release's form of the rotation attack
(``ml-stat-Sustech/ConvexConcaveLoss``,
``source/attacks/membership_inference/data_augmentation_attack.py``): angles ``-r, 0, r``,
nearest-neighbour rotation with black fill (:func:`release_rotate_transform`), correctness
features, the release's attack MLP (5 epochs); see :func:`rotation_release_attack`.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from .base import AttackContext, AttackResult, register_attack
from .nn import ClassifierConfig, classifier_attack, release_mlp_info, release_mlp_logits

__all__ = [
    "AUG_FEATURES",
    "augmentation_attack",
    "augmentation_features",
    "black_fill",
    "release_rotate_transform",
    "rotate_transform",
    "rotation_release_attack",
    "rotation_angles",
    "translate_transform",
    "translation_shifts",
]

Tensor = torch.Tensor

#: Per-query features of the augmentation attacks.
AUG_FEATURES = ("correctness", "probability")


def rotation_angles(r: float, steps: int = 1) -> tuple[float, ...]:
    """Query angles of the rotation attack: ``0`` then ``-r k/steps, +r k/steps`` for ``k = 1..steps`` (degrees).

    Args:
        r: the largest rotation in degrees, in (0, 180].
        steps: number of angles per side (>= 1); ``2 * steps + 1`` queries in all.
    """
    r = float(r)
    if not (0.0 < r <= 180.0):
        raise ValueError(f"rotation r must be in (0, 180] degrees, got {r!r}")
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    out = [0.0]
    for k in range(1, steps + 1):
        a = r * k / steps
        out += [-a, a]
    return tuple(out)


def translation_shifts(d: int) -> tuple[tuple[int, int], ...]:
    """Query shifts of the translation attack: ``(0, 0)`` and every ``(i, j)`` with ``|i| + |j| = d``.

    ``i`` moves the image down by ``i`` rows, ``j`` right by ``j`` columns.

    Args:
        d: the shift's L1 length in pixels (integer >= 1); ``4 d + 1`` queries in all.
    """
    if not (isinstance(d, (int, np.integer)) and d >= 1):
        raise ValueError(f"translation d must be a positive integer number of pixels, got {d!r}")
    d = int(d)
    shifts = [(0, 0)]
    for i in range(-d, d + 1):
        rest = d - abs(i)
        shifts += [(i, j) for j in sorted({-rest, rest})]
    return tuple(shifts)


def rotate_transform(angle: float) -> Callable[[Tensor], Tensor]:
    """Rotate a normalized batch (N, C, H, W) counter-clockwise by ``angle`` degrees (bilinear, zero fill)."""
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    angle = float(angle)

    def f(x: Tensor) -> Tensor:
        return TF.rotate(x, angle, interpolation=InterpolationMode.BILINEAR, fill=0.0)

    return f


def translate_transform(i: int, j: int) -> Callable[[Tensor], Tensor]:
    """Shift a normalized batch (N, C, H, W) down ``i`` rows and right ``j`` columns (zero fill)."""
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    i, j = int(i), int(j)

    def f(x: Tensor) -> Tensor:
        return TF.affine(
            x, angle=0.0, translate=[j, i], scale=1.0, shear=[0.0, 0.0],
            interpolation=InterpolationMode.NEAREST, fill=0.0,
        )  # fmt: skip

    return f


def augmentation_features(logits_per_query: Sequence[Any], y: Any, feature: str = "correctness") -> np.ndarray:
    """(n, Q) matrix of per-query features from the Q augmented queries' logits.

    ``feature="correctness"``: 1 where ``argmax == y``; ``"probability"``: the true-class probability.

    Args:
        logits_per_query: Q arrays of (n, K) logits, one per augmented query.
        y: (n,) true labels.
        feature: one of :data:`AUG_FEATURES`, as above.
    """
    if feature not in AUG_FEATURES:
        raise ValueError(f"feature must be one of {AUG_FEATURES}, got {feature!r}")
    if len(logits_per_query) == 0:
        raise ValueError("need at least one query")
    t = torch.as_tensor(y).long().cpu()
    cols = []
    for z in logits_per_query:
        z = torch.as_tensor(z).detach().cpu().double()
        if z.dim() != 2 or len(z) != len(t):
            raise ValueError(f"each query's logits must be (n, K) with n = {len(t)}, got shape {tuple(z.shape)}")
        if feature == "correctness":
            cols.append((z.argmax(1) == t).double())
        else:
            cols.append(torch.softmax(z, 1).gather(1, t[:, None])[:, 0])
    return torch.stack(cols, 1).float().numpy()


def _require_images(ctx: AttackContext, attack: str) -> None:
    if ctx.kind != "image":
        raise ValueError(
            f"the {attack} attack (Choquette-Choo et al., 2021) augments images and needs kind='image' data; "
            f"this run has kind={ctx.kind!r}. Use the tabular attacks (TABULAR_ATTACKS) for tabular data."
        )
    for role in ("target", "shadow"):
        for part in ("in", "out"):
            x = ctx.data(role, part)[0]
            if x.dim() != 4:
                raise ValueError(
                    f"the {attack} attack needs image batches (N, C, H, W); {role}_{part} has shape {tuple(x.shape)}"
                )


def augmentation_attack(
    ctx: AttackContext,
    augmentation: str,
    *,
    r: float = 4.0,
    steps: int = 1,
    d: int = 1,
    feature: str = "correctness",
    config: ClassifierConfig = ClassifierConfig(),
    name: Optional[str] = None,
) -> AttackResult:
    """Run the rotation or translation attack of Choquette-Choo et al. (2021).

    Args:
        ctx: the attacker's view; must hold image data.
        augmentation: ``"rotation"`` (angles :func:`rotation_angles(r, steps)`)
            or ``"translation"`` (shifts :func:`translation_shifts(d)`).
        r, steps: rotation magnitude in degrees and number of angle steps per side.
        d: translation distance in pixels (``|i| + |j| = d``).
        feature: ``"correctness"`` or ``"probability"`` per query.
        config: the attack classifier's :class:`ClassifierConfig`.
        name: the report's attack name (default: ``augmentation``).

    The classifier is trained on the *shadow* model's features of the shadow
    train/test sets and scored on the *target's* features (never on its own
    training set).
    """
    if augmentation not in ("rotation", "translation"):
        raise ValueError(f"augmentation must be 'rotation' or 'translation', got {augmentation!r}")
    if feature not in AUG_FEATURES:
        raise ValueError(f"feature must be one of {AUG_FEATURES}, got {feature!r}")
    _require_images(ctx, augmentation)
    queries: list[tuple[Any, Optional[Callable[[Tensor], Tensor]]]]
    if augmentation == "rotation":
        params: Any = rotation_angles(r, steps)
        queries = [(None, None) if a == 0.0 else (("rotate", a), rotate_transform(a)) for a in params]
        info: dict[str, Any] = {"angles_deg": list(params), "r": float(r)}
    else:
        params = translation_shifts(d)
        queries = [(None, None) if s == (0, 0) else (("translate", s), translate_transform(*s)) for s in params]
        info = {"shifts_px": [list(s) for s in params], "d": int(d)}
    feats = {}
    for role in ("shadow", "target"):
        for part in ("in", "out"):
            logits = [ctx.logits(role, part, transform=tf, key=key) for key, tf in queries]
            feats[role, part] = augmentation_features(logits, ctx.labels(role, part), feature)
    info.update(family="augmentation", feature=feature, n_queries=len(queries))
    return classifier_attack(
        name or augmentation,
        feats["shadow", "in"], feats["shadow", "out"], feats["target", "in"], feats["target", "out"],
        seed=ctx.seed, device=ctx.device, config=config, info=info,
    )  # fmt: skip


@register_attack("rotation", image_only=True)
def rotation_attack(
    ctx: AttackContext, *, r: float = 4.0, steps: int = 1, feature: str = "correctness",
    config: ClassifierConfig = ClassifierConfig(),
) -> AttackResult:  # fmt: skip
    """Rotation attack (Choquette-Choo et al., 2021): queries rotated by 0 and +-r degrees."""
    return augmentation_attack(ctx, "rotation", r=r, steps=steps, feature=feature, config=config)


@register_attack("translation", image_only=True)
def translation_attack(
    ctx: AttackContext, *, d: int = 1, feature: str = "correctness", config: ClassifierConfig = ClassifierConfig()
) -> AttackResult:
    """Translation attack (Choquette-Choo et al., 2021): the identity and all shifts of |i| + |j| = d pixels."""
    return augmentation_attack(ctx, "translation", d=d, feature=feature, config=config)


# --------------------------------------------------------------------------- the CCL release's form


def black_fill(normalization: Any) -> tuple[float, ...]:
    """The model input of a black pixel: ``-mean / std`` per channel of the data set's normalization.

    The CCL release rotates PIL images, whose fill is black (pixel value 0): ``torchvision``
    ``transforms.functional.rotate`` as called in ``ml-stat-Sustech/ConvexConcaveLoss``
    ``source/attacks/membership_inference/data_augmentation_attack.py``
    (``AugmentedAttackData._get_transform``).  ccl_lib rotates normalized batches, where black is
    ``(0 - mean) / std``.

    Args:
        normalization: ``(mean, std)`` per channel, as :attr:`ccl_lib.data.Dataset.normalization`.
    """
    try:
        mean, std = normalization
        mean_t, std_t = tuple(float(m) for m in mean), tuple(float(v) for v in std)
    except (TypeError, ValueError):
        raise ValueError(f"normalization must be (mean, std) per channel, got {normalization!r}") from None
    if len(mean_t) != len(std_t) or not mean_t or not all(v > 0 for v in std_t):
        raise ValueError(f"normalization needs one mean and one std > 0 per channel, got {normalization!r}")
    return tuple(-m / v for m, v in zip(mean_t, std_t))


def release_rotate_transform(angle: float, fill: Sequence[float]) -> Callable[[Tensor], Tensor]:
    """Rotate a normalized batch (N, C, H, W) counter-clockwise by ``angle`` degrees, nearest neighbour, ``fill``.

    The CCL release's rotation (``ml-stat-Sustech/ConvexConcaveLoss``,
    ``source/attacks/membership_inference/data_augmentation_attack.py``,
    ``AugmentedAttackData._get_transform``: ``TF.rotate(img, angle=augment)`` on a PIL image, whose
    defaults are nearest-neighbour interpolation, no expansion, the image centre, black fill).
    ``fill`` is the per-channel input value of a black pixel (:func:`black_fill`).  The sampling is
    ``torchvision``'s tensor rotation, which equals PIL's at multiples of 90 degrees; at other
    angles it may pick a different neighbour for a few pixels (1 of 1024 on a 32 x 32 image at
    +-4 degrees, measured with torchvision 0.29).

    Args:
        angle: degrees, counter-clockwise.
        fill: one value per channel for the pixels rotated in from outside the image.
    """
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    angle, values = float(angle), [float(v) for v in fill]

    def f(x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != len(values):
            raise ValueError(f"expected a batch (N, {len(values)}, H, W) for a fill of {len(values)} channel(s), "
                             f"got shape {tuple(x.shape)}")  # fmt: skip
        return TF.rotate(x, angle, interpolation=InterpolationMode.NEAREST, fill=values)

    return f


@register_attack("rotation_release", image_only=True)
def rotation_release_attack(
    ctx: AttackContext, *, r: float = 4.0, epochs: int = 5, normalization: Any = None
) -> AttackResult:
    """The rotation attack as the CCL release runs it (``rotation_release`` in the suite).

    ``ml-stat-Sustech/ConvexConcaveLoss``: ``source/attacks/membership_inference/data_augmentation_attack.py``
    (``AugmentedAttackData``: angles ``[-r, 0, r]``, each image rotated as a PIL image -- nearest
    neighbour, black fill, :func:`release_rotate_transform` -- and the per-query correctness
    ``argmax == y``; ``DataAugmentationMIA``: the release's MLP on these 3 features, 5 epochs, see
    :func:`~ccl_lib.attacks.nn.release_mlp_logits`), run by ``source/examples/mia.py``.

    **Documented deviation.**  ``mia.py`` builds the rotation attack with
    ``attack_test_dataset=attack_dataset_rotation.attack_train_dataset``: the release scores the
    rotation attack on the *shadow* model's features it was trained on, not on the target (its
    translation attack uses the target's).  ccl_lib scores the target (the protocol of every
    attack, Sec. 5.1); the release's own number -- the classifier's accuracy, advantage and AUC on
    the shadow features it was trained on -- is kept in ``info["release_shadow_set"]``.

    Score: ``logit_member - logit_non_member``; decision: member iff it is > 0 (the argmax).

    Args:
        ctx: the attacker's view (image data).
        r: the rotation in degrees, in (0, 180]; the release's ``--augment_kwarg_rotation``
            (4 in its training parser, 1 in its attack parsers; ccl_lib's ``rotation`` uses 4).
        epochs: training passes of the attack MLP (``DataAugmentationMIA.train``: 5).
        normalization: ``(mean, std)`` per channel of the inputs, for the black fill
            (:func:`black_fill`); default ``ctx.normalization`` (the run engine passes the data
            set's).
    """
    from .. import metrics as _metrics

    _require_images(ctx, "rotation_release")
    r = float(r)
    if not (0.0 < r <= 180.0):
        raise ValueError(f"rotation r must be in (0, 180] degrees, got {r!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    norm = normalization if normalization is not None else getattr(ctx, "normalization", None)
    if norm is None:
        raise ValueError(
            "attack 'rotation_release' fills with black in pixel space and needs the inputs' normalization: "
            "pass run_attacks(..., normalization=ds.normalization) or the option normalization=(mean, std)"
        )
    fill = black_fill(norm)
    angles = (-r, 0.0, r)  # the release's order
    queries = [(None, None) if a == 0.0 else (("rotate_release", a, fill), release_rotate_transform(a, fill))
               for a in angles]  # fmt: skip
    feats = {}
    for role in ("shadow", "target"):
        for part in ("in", "out"):
            logits = [ctx.logits(role, part, transform=tf, key=key) for key, tf in queries]
            feats[role, part] = torch.from_numpy(augmentation_features(logits, ctx.labels(role, part)))
    evaluate = {(role, part): feats[role, part] for role in ("target", "shadow") for part in ("in", "out")}
    out = release_mlp_logits(feats["shadow", "in"], feats["shadow", "out"], evaluate, seed=ctx.seed,
                             device=ctx.device, epochs=epochs)  # fmt: skip
    score = {key: (v[:, 1] - v[:, 0]).numpy() for key, v in out.items()}
    s_in, s_out = score["shadow", "in"], score["shadow", "out"]
    labels = np.r_[np.ones(len(s_in)), np.zeros(len(s_out))]
    dec = np.r_[s_in > 0, s_out > 0]
    info: dict[str, Any] = {
        "family": "augmentation",
        "variant": "release",
        "feature": "correctness",
        "angles_deg": list(angles),
        "r": r,
        "interpolation": "nearest",
        "fill": list(fill),
        "classifier": release_mlp_info(epochs),
        "scored_on": "target (ccl_lib's protocol)",
        "deviation": "the release's mia.py scores the rotation attack on the shadow set it trained on "
        "(attack_test_dataset=attack_dataset_rotation.attack_train_dataset); that number is release_shadow_set",
        "release_shadow_set": {
            "accuracy": float((dec == labels.astype(bool)).mean()),
            "advantage": float((s_in > 0).mean() - (s_out > 0).mean()),
            "auc": float(_metrics.roc_auc(np.r_[s_in, s_out], labels.astype(np.int64))),
        },
        "follows": "ml-stat-Sustech/ConvexConcaveLoss source/attacks/membership_inference/data_augmentation_attack.py",
    }
    t_in, t_out = score["target", "in"], score["target", "out"]
    return AttackResult("rotation_release", t_in, t_out, t_in > 0.0, t_out > 0.0, info)
