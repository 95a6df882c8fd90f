"""The one place where RLx2 meets the sparse engine (``deeprl.sparse``): one "group trainer" per network.

A group trainer wraps one network's optimiser and exposes exactly what TD3/SAC need:
``step()`` after ``backward()`` (an optimiser step or, on a topology-update iteration, the mask update that
replaces it, spec §1.5), ``soft_update(tau)`` of the network's targets (spec eq. 13: Polyak, then the
targets are re-masked with the online masks they share), ``density()``, per-sample forward FLOPs
(spec eq. 14) and ``state_dict()``.

A sparse network gets a :class:`SparseGroupTrainer` (one ``deeprl.sparse.SparseTrainer`` with one
``SparseGroup`` named after the network, "actor" or "critic"); a dense network gets a :class:`DenseGroup`
with the same interface, so dense and sparse runs share every other line of code. RLx2 counts ΔT and
T_end in each group's own optimiser steps (spec §2.1): the TD3 actor steps every ``policy_delay``
iterations, so its schedule is that much shorter.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deeprl.rlx2.config import RLx2Config
from deeprl.sparse import DropFractionSchedule, SparseGroup, SparseTrainer, UpdateSchedule


def dense_forward_flops(module: nn.Module) -> float:
    """Per-sample forward FLOPs of all Linear layers, 2 * n_in * n_out each (spec eq. 14, no biases)."""
    return float(sum(2 * m.in_features * m.out_features for m in module.modules() if isinstance(m, nn.Linear)))


@torch.no_grad()
def polyak(online: nn.Module, target: nn.Module, tau: float) -> None:
    """theta' <- tau * theta + (1 - tau) * theta' for every parameter (dense part of spec eq. 13)."""
    for p, tp in zip(online.parameters(), target.parameters(), strict=True):
        tp.lerp_(p, tau)


class DenseGroup:
    """A dense network's optimiser behind the group-trainer interface (no masks, density 1)."""

    sparse = False

    def __init__(self, name: str, module: nn.Module, optimizer: torch.optim.Optimizer,
                 targets: list[nn.Module]) -> None:
        self.name, self.module, self.optimizer, self.targets = name, module, optimizer, list(targets)
        self.steps = 0
        self._f = dense_forward_flops(module)

    def step(self) -> bool:
        self.optimizer.step()
        self.steps += 1
        return True

    def soft_update(self, tau: float) -> None:
        for t in self.targets:
            polyak(self.module, t, tau)

    def density(self) -> float:
        return 1.0

    def forward_flops(self, dense: bool = False) -> float:
        return self._f

    def topology_update_now(self) -> bool:
        """Whether the next ``step()`` is a RigL update needing the dense gradient (never, when dense)."""
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = int(state["steps"])


class SparseGroupTrainer:
    """One network trained sparse by ``deeprl.sparse.SparseTrainer`` (masks, topology, target sharing)."""

    sparse = True

    def __init__(self, name: str, module: nn.Module, optimizer: torch.optim.Optimizer, sparsity: float,
                 cfg: RLx2Config, group_steps: int, targets: list[nn.Module], seed: int) -> None:
        self.name = name
        t_end = max(1, int(cfg.t_end_fraction * group_steps))
        group = SparseGroup(name, module, sparsity, distribution=cfg.distribution)
        schedule = None if cfg.topology == "static" else UpdateSchedule(interval=cfg.topology_interval, end=t_end)
        self.trainer = SparseTrainer(
            group, optimizer, updater=cfg.topology, update_schedule=schedule,
            drop_fraction=DropFractionSchedule(cfg.drop_schedule, cfg.zeta, t_end),
            mask_init=cfg.mask_init, reset_optimizer_state=cfg.reset_optimizer_state,
            samples_per_step=cfg.batch_size, seed=seed)
        for t in targets:
            self.trainer.attach_target(t, name)

    def step(self) -> bool:
        return self.trainer.step()

    def soft_update(self, tau: float) -> None:
        self.trainer.soft_update(tau, self.name)

    def density(self) -> float:
        return self.trainer.density(self.name)

    def forward_flops(self, dense: bool = False) -> float:
        return float(self.trainer.flops.forward(self.name, sparse=not dense))

    def topology_update_now(self) -> bool:
        return self.trainer.capturing_dense_grad

    def state_dict(self) -> dict[str, Any]:
        return self.trainer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trainer.load_state_dict(state)


def make_group_trainer(name: str, module: nn.Module, optimizer: torch.optim.Optimizer, sparsity: float,
                       cfg: RLx2Config, group_steps: int, targets: list[nn.Module]) -> DenseGroup | SparseGroupTrainer:
    """The group trainer of network ``name`` ("actor" / "critic") at global sparsity ``sparsity``.

    ``group_steps`` is the number of optimiser steps the group takes in the run; topology evolution ends
    at T_end = ``t_end_fraction * group_steps`` (RLx2: the whole run).
    """
    if cfg.dense or sparsity == 0.0:
        return DenseGroup(name, module, optimizer, targets)
    seed = 2 * cfg.seed + (0 if name == "actor" else 1)  # the engine's own generator, one per group
    return SparseGroupTrainer(name, module, optimizer, sparsity, cfg, group_steps, targets, seed)
