"""Topology updaters (sparse spec §1.5, eqs. (8)-(11); MST spec eqs. (8)-(10)).

``MaskUpdater.update(W, M, score_grow, ζ, rng, n_target) -> M'`` for one layer:

- counts, eqs. (8)-(10) with ``n_l = |M|`` and target ``m* = n_target`` (default ``n_l``, plain DST):
  ``Δ = n_l − m*``, ``n_prune = max(⌊ζ·n_l⌋, Δ)``, ``n_grow = n_prune − Δ``; a dense target ``m* = N``
  skips the drop and grows every missing entry. With ``m* = n_l`` this is eq. (8) ``k_l = ⌊ζ·nnz_l⌋``.
- drop, eq. (9): the ``n_prune`` active entries with smallest ``|W|``;
- grow, eq. (10): the ``n_grow`` largest ``score_grow`` among all entries not kept (just-dropped entries
  included; kept entries get score −∞);
- ties are broken by flat index (stable sort), so results are deterministic.

``grow_score(W, M, dense_grad, rng)`` gives the score: RigL ``|∂L/∂W|`` of the dense gradient (§1.6),
SET i.i.d. ``U(0, 1)``. ``Static`` keeps the topology (ζ ignored) and only moves toward a changed target.
Registry names: ``"static"``, ``"set"``, ``"rigl"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from deeprl.sparse.masks import bottomk_flat, topk_flat


@dataclass(frozen=True)
class UpdateCounts:
    """Eqs. (8)-(10) for one layer: active before, target after, pruned and grown."""

    n_before: int
    n_target: int
    n_prune: int
    n_grow: int


def update_counts(n_active: int, n_total: int, zeta: float, n_target: int | None = None) -> UpdateCounts:
    """Eqs. (8)-(10): ``Δ = n − m*``, ``n_prune = max(⌊ζ n⌋, Δ)``, ``n_grow = n_prune − Δ``.

    A dense target (``m* = N``) skips the drop and grows every missing entry (MST spec §3.6).
    """
    n, big_n = int(n_active), int(n_total)
    m = n if n_target is None else int(n_target)
    if not 0 <= m <= big_n:
        raise ValueError(f"n_target must be in [0, {big_n}], got {m}")
    if not 0.0 <= zeta <= 1.0:
        raise ValueError(f"drop fraction zeta must be in [0, 1], got {zeta!r}")
    if m == big_n:
        return UpdateCounts(n, m, 0, big_n - n)
    delta = n - m
    n_prune = min(n, max(int(math.floor(zeta * n)), delta))
    return UpdateCounts(n, m, n_prune, n_prune - delta)


class MaskUpdater:
    """Base updater: magnitude drop, score grow (§1.1 object 4). Subclasses define :meth:`grow_score`."""

    name = "base"
    needs_dense_grad = False
    uses_drop_fraction = True

    def grow_score(self, weight: torch.Tensor, mask: torch.Tensor, dense_grad: torch.Tensor | None,
                   rng: torch.Generator) -> torch.Tensor:
        """Score for growing (larger = grown first)."""
        raise NotImplementedError

    def drop_score(self, weight: torch.Tensor, mask: torch.Tensor, dense_grad: torch.Tensor | None) -> torch.Tensor:
        """Score for dropping (smaller = dropped first): ``|W|`` (eq. (9))."""
        return weight.detach().abs()

    def update(self, weight: torch.Tensor, mask: torch.Tensor, score_grow: torch.Tensor, zeta: float,
               rng: torch.Generator | None = None, n_target: int | None = None,
               score_drop: torch.Tensor | None = None) -> torch.Tensor:
        """Return the new bool mask ``M' = K ∪ G`` of eq. (11) (the inputs are not modified).

        ``score_drop`` defaults to ``|W|`` (eq. (9)); ``n_target`` to ``|M|`` (eqs. (8)-(10)).
        """
        if weight.shape != mask.shape or score_grow.shape != mask.shape:
            raise ValueError(f"weight {tuple(weight.shape)}, mask {tuple(mask.shape)} and score "
                             f"{tuple(score_grow.shape)} must have the same shape")
        flat_m = mask.reshape(-1).to(torch.bool)
        zeta = zeta if self.uses_drop_fraction else 0.0
        c = update_counts(int(flat_m.sum()), flat_m.numel(), zeta, n_target)
        if c.n_target == flat_m.numel():
            return torch.ones_like(mask, dtype=torch.bool)
        sd = weight.detach().abs() if score_drop is None else score_drop.detach()
        mag = sd.reshape(-1).to(torch.float64)
        mag = torch.where(flat_m, torch.nan_to_num(mag, nan=math.inf), torch.full_like(mag, math.inf))
        keep = flat_m.clone()
        keep[bottomk_flat(mag, c.n_prune)] = False  # eq. (9)
        new = self._grow(keep, score_grow.detach().reshape(-1).to(torch.float64), c.n_grow, rng)
        return new.reshape(mask.shape)

    def _grow(self, keep: torch.Tensor, score: torch.Tensor, n_grow: int,
              rng: torch.Generator | None) -> torch.Tensor:
        """Eq. (10): activate the ``n_grow`` best-scored entries outside ``keep``."""
        score = torch.where(keep, torch.full_like(score, -math.inf), torch.nan_to_num(score, nan=-1e300))
        new = keep.clone()
        new[topk_flat(score, n_grow)] = True
        return new

    def config(self) -> dict[str, object]:
        """JSON-able description."""
        return {"name": self.name}


class StaticUpdater(MaskUpdater):
    """Static sparse training: the topology never changes (ζ ignored). If the target count moves
    (a :class:`~deeprl.sparse.schedules.TargetSchedule`), it prunes by magnitude or grows at random."""

    name = "static"
    uses_drop_fraction = False

    def grow_score(self, weight, mask, dense_grad, rng):  # noqa: D102
        return torch.rand(mask.shape, generator=rng, device=rng.device).to(mask.device)


class SETUpdater(MaskUpdater):
    """SET (Mocanu et al. 2018): magnitude drop, random grow (score ``U(0,1)`` i.i.d., eq. (10))."""

    name = "set"

    def grow_score(self, weight, mask, dense_grad, rng):  # noqa: D102
        return torch.rand(mask.shape, generator=rng, device=rng.device).to(mask.device)


class RigLUpdater(MaskUpdater):
    """RigL (Evci et al. 2020): magnitude drop, grow where the dense gradient ``|∂L/∂W|`` is largest.

    The dense gradient is captured by the trainer's hook on update iterations only (§1.6).
    Options (MST spec §3.4, from the MST code): ``drop="magnitude"`` (default, ``|W|``), ``"mest"``
    (``|W| + λ|g|``, λ = ``mest_lambda``) or ``"ratio"`` (``|W|/|g|``); ``grow="gradient"`` (default),
    ``"random"`` or ``"mixed"`` (``⌈mixed_fraction·n_grow⌉`` by gradient, the rest uniformly at random among
    the remaining candidates; 3 : 1 by default).
    """

    name = "rigl"
    needs_dense_grad = True
    DROPS = ("magnitude", "mest", "ratio")
    GROWS = ("gradient", "random", "mixed")

    def __init__(self, drop: str = "magnitude", grow: str = "gradient", mest_lambda: float = 1.0,
                 mixed_fraction: float = 0.75) -> None:
        if drop not in self.DROPS:
            raise ValueError(f"drop must be one of {', '.join(self.DROPS)}, got {drop!r}")
        if grow not in self.GROWS:
            raise ValueError(f"grow must be one of {', '.join(self.GROWS)}, got {grow!r}")
        if not 0.0 <= mixed_fraction <= 1.0:
            raise ValueError(f"mixed_fraction must be in [0, 1], got {mixed_fraction!r}")
        self.drop, self.grow = drop, grow
        self.mest_lambda, self.mixed_fraction = float(mest_lambda), float(mixed_fraction)

    def config(self) -> dict[str, object]:  # noqa: D102
        return {"name": self.name, "drop": self.drop, "grow": self.grow, "mest_lambda": self.mest_lambda,
                "mixed_fraction": self.mixed_fraction}

    def drop_score(self, weight, mask, dense_grad):  # noqa: D102
        w = weight.detach().abs()
        if self.drop == "magnitude":
            return w
        g = self._require(dense_grad).abs()
        if self.drop == "mest":
            return w + self.mest_lambda * g
        return w / g.clamp_min(1e-30)

    @staticmethod
    def _require(dense_grad: torch.Tensor | None) -> torch.Tensor:
        if dense_grad is None:
            raise RuntimeError(
                "RigL needs the dense gradient of the update iteration: call loss.backward() before "
                "SparseTrainer.step() (and do not clear gradients in between)"
            )
        return dense_grad.detach()

    def grow_score(self, weight, mask, dense_grad, rng):  # noqa: D102
        if self.grow == "random":
            return torch.rand(mask.shape, generator=rng, device=rng.device).to(mask.device)
        return self._require(dense_grad).abs()

    def _grow(self, keep, score, n_grow, rng):  # noqa: D102
        if self.grow != "mixed":
            return super()._grow(keep, score, n_grow, rng)
        n_grad = int(math.ceil(self.mixed_fraction * n_grow))
        new = super()._grow(keep, score, n_grad, rng)
        if rng is None:
            raise ValueError("grow='mixed' needs an rng for its random part")
        u = torch.rand(score.shape, generator=rng, device=rng.device).to(score.device, torch.float64)
        return super()._grow(new, u, n_grow - n_grad, rng)


UPDATERS: dict[str, type[MaskUpdater]] = {"static": StaticUpdater, "set": SETUpdater, "rigl": RigLUpdater}


def make_updater(spec: str | MaskUpdater) -> MaskUpdater:
    """Registry look-up: ``"static" | "set" | "rigl"`` or an instance."""
    if isinstance(spec, MaskUpdater):
        return spec
    try:
        return UPDATERS[str(spec).lower()]()
    except KeyError:
        raise ValueError(f"updater must be one of {', '.join(UPDATERS)}, got {spec!r}") from None
