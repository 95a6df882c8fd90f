"""Mask initialisation (sparse spec §1.4): ``MaskInit(weights, densities, rng) -> masks``.

Registry names: ``"random"`` (default: nnz_l positions uniformly without replacement) and
``"magnitude"`` (keep the nnz_l largest |W| of the fresh init, as RLx2 does). Both choose exactly
``nnz_l = round(d_l·N_l)`` entries (eq. (6)); ties in magnitude are broken by flat index (stable sort).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from deeprl.sparse.distributions import nnz_per_layer


def topk_flat(score: torch.Tensor, k: int) -> torch.Tensor:
    """Flat indices of the ``k`` largest entries of ``score``; ties go to the smaller flat index.

    A stable descending sort keeps equal scores in index order, so the result is deterministic across
    runs and devices (MST spec §3.4 "Ties").
    """
    flat = score.reshape(-1)
    if k <= 0:
        return torch.empty(0, dtype=torch.long, device=flat.device)
    order = torch.sort(flat, descending=True, stable=True).indices
    return order[:k]


def bottomk_flat(score: torch.Tensor, k: int) -> torch.Tensor:
    """Flat indices of the ``k`` smallest entries of ``score`` (ties: smaller flat index first)."""
    flat = score.reshape(-1)
    if k <= 0:
        return torch.empty(0, dtype=torch.long, device=flat.device)
    order = torch.sort(flat, descending=False, stable=True).indices
    return order[:k]


def mask_from_indices(shape: torch.Size, idx: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A bool tensor of ``shape`` that is True exactly at flat indices ``idx``."""
    m = torch.zeros(int(torch.Size(shape).numel()), dtype=torch.bool, device=device)
    m[idx.to(device)] = True
    return m.reshape(shape)


class MaskInit:
    """Base class: ``init(weights, densities, rng) -> {layer: bool mask}`` (§1.1 object 2)."""

    name = "base"

    def choose(self, weight: torch.Tensor, nnz: int, rng: torch.Generator) -> torch.Tensor:
        """Bool mask with exactly ``nnz`` True entries for one layer."""
        raise NotImplementedError

    def __call__(
        self,
        weights: Mapping[str, torch.Tensor],
        densities: Mapping[str, float],
        rng: torch.Generator,
    ) -> dict[str, torch.Tensor]:
        nnz = nnz_per_layer({k: tuple(w.shape) for k, w in weights.items()}, densities)
        return {k: self.choose(w.detach(), nnz[k], rng) for k, w in weights.items()}


class RandomMaskInit(MaskInit):
    """``random``: ``nnz_l`` positions uniformly without replacement (a random permutation's prefix)."""

    name = "random"

    def choose(self, weight: torch.Tensor, nnz: int, rng: torch.Generator) -> torch.Tensor:
        n = weight.numel()
        if nnz >= n:
            return torch.ones_like(weight, dtype=torch.bool)
        perm = torch.randperm(n, generator=rng, device=rng.device)
        return mask_from_indices(weight.shape, perm[:nnz], weight.device)


class MagnitudeMaskInit(MaskInit):
    """``magnitude`` (RLx2): keep the ``nnz_l`` largest |W| of the fresh initialisation."""

    name = "magnitude"

    def choose(self, weight: torch.Tensor, nnz: int, rng: torch.Generator) -> torch.Tensor:
        if nnz >= weight.numel():
            return torch.ones_like(weight, dtype=torch.bool)
        return mask_from_indices(weight.shape, topk_flat(weight.abs(), nnz), weight.device)


MASK_INITS: dict[str, type[MaskInit]] = {"random": RandomMaskInit, "magnitude": MagnitudeMaskInit}


def make_mask_init(spec: str | MaskInit) -> MaskInit:
    """Registry look-up: ``"random" | "magnitude"`` or an instance."""
    if isinstance(spec, MaskInit):
        return spec
    try:
        return MASK_INITS[str(spec).lower()]()
    except KeyError:
        raise ValueError(f"mask_init must be one of {', '.join(MASK_INITS)}, got {spec!r}") from None
