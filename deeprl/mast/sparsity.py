"""MAST's use of the shared sparse engine (spec ``sparse.md`` §3.5, §1.8, §1.10 eq. (19)).

This module only *chooses*: one :class:`deeprl.sparse.SparseGroup` per network (``agent``: fc1, GRU
``weight_ih``/``weight_hh``, fc2; ``mixer``: every hypernetwork Linear incl. h_b1 and V; WQMIX adds
``central_agent`` and ``central_mixer``), each at the global sparsity ``cfg.sparsity`` with an ER
distribution over its layers; a :class:`deeprl.sparse.SparseTrainer` with the ``rigl`` updater every
``mask_update_episodes`` optimizer steps (one step per collected episode, so ΔT is counted in episodes as
in MAST) until ``t_end_frac`` of training, or the ``static`` updater; the target networks attached so that
they share the online masks. All mask logic lives in the engine.

FLOPs, eq. (19), per training step on B episodes of T steps and n agents:
``B·T·[n·(3 f^agent + f^agent') + 3 f^mix + f^mix']`` where ``f^mix`` adds the dense mixing arithmetic
``2·n·E + 2·E`` to the hypernetwork forwards; on a RigL update iteration the online ``3 f_S`` becomes
``2 f_S + f_D`` (eq. (15)); WQMIX adds the same terms for its central networks; RES adds the ``n·|A|``
counterfactual mixer forwards of eq. (30) (online and target) [our extension]; acting adds ``n·f^agent``
per environment step. Dense reference: the same with every ``f`` dense. Ratios: eq. (18).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from deeprl.mast.config import MastConfig
from deeprl.sparse import FlopsCounter, SparseGroup, SparseTrainer, UpdateSchedule
from deeprl.sparse.flops import marl_iteration_flops

AGENT_GROUPS = ("agent", "central_agent")


class SparseNetworks:
    """The sparse side of a MAST learner: masks via the engine, target sync, eq. (19) FLOPs."""

    def __init__(self, cfg: MastConfig, nets: Mapping[str, nn.Module], targets: Mapping[str, nn.Module],
                 optimizer: torch.optim.Optimizer, total_train_steps: int) -> None:
        self.cfg = cfg
        self.nets, self.targets, self.optimizer = dict(nets), dict(targets), optimizer
        groups = {k: SparseGroup(k, m, cfg.sparsity if cfg.sparse else 0.0, distribution=cfg.distribution)
                  for k, m in nets.items()}
        self.trainer: SparseTrainer | None = None
        if cfg.sparse:
            rigl = cfg.topology == "rigl"
            end = max(1, int(round(cfg.t_end_frac * total_train_steps)))
            self.trainer = SparseTrainer(
                list(groups.values()), optimizer, updater="rigl" if rigl else "static",
                update_schedule=UpdateSchedule(cfg.mask_update_episodes, end=end) if rigl else None,
                drop_fraction=cfg.zeta0, seed=cfg.seed)
            for k, t in targets.items():
                self.trainer.attach_target(t, k)
            self.flops = self.trainer.flops
        else:
            self.flops = FlopsCounter()
            for k, g in groups.items():
                self.flops.register(k, g.layers, (lambda g=g: {n: p.numel() for n, p in g.params.items()}))

    # ------------------------------------------------------------------ training hooks
    def zero_grad(self) -> None:
        if self.trainer is not None:
            self.trainer.zero_grad(set_to_none=True)
        else:
            self.optimizer.zero_grad(set_to_none=True)

    def step(self) -> bool:
        """Optimizer step through the engine; False when a topology update replaced it (§1.5)."""
        if self.trainer is None:
            self.optimizer.step()
            return True
        return self.trainer.step(samples=0)  # FLOPs are accounted by eq. (19) in :meth:`account_train`

    def hard_update_targets(self) -> None:
        """Copy online -> target weights (QMIX hard update, §1.8); with the engine, re-mask the targets."""
        if self.trainer is not None:
            self.trainer.hard_update()
        else:
            for k, m in self.nets.items():
                self.targets[k].load_state_dict(m.state_dict())

    # ------------------------------------------------------------------ FLOPs (eq. 19)
    def _f(self, name: str, sparse: bool) -> float:
        f = float(self.flops.forward(name, sparse))
        if name == "mixer":
            n, e = self.cfg_n_agents, self.cfg.mixer_embed
            f += 2 * n * e + 2 * e  # dense mixing arithmetic
        return f

    def set_sizes(self, n_agents: int, n_actions: int) -> None:
        self.cfg_n_agents, self.cfg_n_actions = n_agents, n_actions

    def account_train(self, batch: int, t_len: int, update_iteration: bool) -> None:
        """Add one training step's FLOPs (sparse and dense reference) under ``"train"``."""
        n = self.cfg_n_agents
        tot = {True: 0.0, False: 0.0}
        for sparse in (True, False):
            for agent, mixer in (("agent", "mixer"), ("central_agent", "central_mixer")):
                if agent not in self.nets:
                    continue
                fa, fm = self._f(agent, sparse), self._f(mixer, sparse)
                it = marl_iteration_flops(fa, fm, n, batch, t_len)
                if sparse and update_iteration and self.cfg.topology == "rigl":
                    fa_d, fm_d = self._f(agent, False), self._f(mixer, False)
                    it += batch * t_len * (n * (fa_d - fa) + (fm_d - fm))  # 3 f_S -> 2 f_S + f_D
                tot[sparse] += it
            if self.cfg.algorithm == "res":
                fm = self._f("mixer", sparse)
                tot[sparse] += batch * t_len * n * self.cfg_n_actions * 2 * fm
        self.flops.add("train", tot[True], tot[False])

    def account_act(self, env_steps: int) -> None:
        n = self.cfg_n_agents
        self.flops.add("act", env_steps * n * self._f("agent", True), env_steps * n * self._f("agent", False))

    def ratios(self) -> dict[str, float]:
        """Eq. (18): training (train + act), inference (agent net) FLOPs ratios; densities per group."""
        out: dict[str, float] = {}
        t = self.flops.totals
        s = sum(t[k]["sparse"] for k in ("train", "act") if k in t)
        d = sum(t[k]["dense"] for k in ("train", "act") if k in t)
        out["train_flops_ratio"] = s / d if d else float("nan")
        out["inference_flops_ratio"] = self.flops.inference_ratio("agent")
        for k in self.nets:
            out[f"density/{k}"] = self.density(k)
        total = sum(self.flops.forward(k, False) for k in self.nets)
        out["density/all"] = sum(self.flops.forward(k, True) for k in self.nets) / total
        return out

    def flops_summary(self) -> dict[str, Any]:
        """The engine's FLOPs summary restricted to what MAST accounts (eq. (19) ``train`` and ``act``)."""
        out = self.flops.summary()
        out["totals"] = {k: v for k, v in out["totals"].items() if v["dense"] > 0}
        return out

    def density(self, group: str) -> float:
        return 1.0 if self.trainer is None else self.trainer.density(group)

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict[str, Any]:
        if self.trainer is not None:
            return self.trainer.state_dict()
        return {"flops": self.flops.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if self.trainer is not None:
            self.trainer.load_state_dict(state)
        else:
            self.flops.load_state_dict(state.get("flops", {}))
