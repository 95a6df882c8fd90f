"""The one place where RLx2 meets the sparse engine (``deeprl.sparse``): a per-network "group trainer".

A group trainer wraps one network's optimiser and exposes what TD3/SAC need:
``step()`` after ``backward()`` (an optimiser step, or on a topology-update iteration the mask update
that replaces it, spec §1.5), ``sync_targets()`` after a Polyak update (targets share the online masks,
spec eq. 13), ``density()``, per-sample forward FLOPs ``forward_flops(dense=...)`` (spec eq. 14), and
``state_dict()``. A dense network gets a :class:`DenseGroup`, so dense and sparse runs share every other
line of code.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deeprl.rlx2.config import RLx2Config


def dense_forward_flops(module: nn.Module) -> float:
    """Per-sample forward FLOPs of all Linear layers, 2 * n_in * n_out each (spec eq. 14, no biases)."""
    return float(sum(2 * m.in_features * m.out_features for m in module.modules() if isinstance(m, nn.Linear)))


class DenseGroup:
    """A dense network's optimiser behind the group-trainer interface (no masks, density 1)."""

    sparse = False

    def __init__(self, name: str, module: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.name, self.module, self.optimizer = name, module, optimizer
        self.steps = 0
        self._f = dense_forward_flops(module)

    def step(self) -> bool:
        self.optimizer.step()
        self.steps += 1
        return True

    def sync_targets(self) -> None:
        pass

    def density(self) -> float:
        return 1.0

    def forward_flops(self, dense: bool = False) -> float:
        return self._f

    def topology_update_now(self) -> bool:
        """Whether the next ``step()`` is a mask update (never, for a dense network)."""
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = int(state["steps"])


def make_group_trainer(name: str, module: nn.Module, optimizer: torch.optim.Optimizer, sparsity: float,
                       cfg: RLx2Config, group_steps: int, targets: list[nn.Module]) -> Any:
    """The group trainer of network ``name`` ("actor" / "critic") at global sparsity ``sparsity``.

    ``group_steps`` is the number of optimiser steps this group takes in the run; T_end (end of topology
    evolution) = ``t_end_fraction * group_steps`` (spec §2.1: ΔT and T_end count the group's own steps).
    """
    if cfg.dense or sparsity == 0.0:
        return DenseGroup(name, module, optimizer)
    raise NotImplementedError("sparse groups need deeprl.sparse.SparseTrainer")
