"""Run policies in the simulator and tune the heuristics (RSD4 spec §3.3-3.5).

:func:`evaluate` plays a policy (the ``reset(env, rng)`` / ``energies(env)`` interface of
:mod:`.heuristics` and :mod:`.optimal`) for whole episodes of :class:`~.env.SchedulingEnv` and reports
weighted throughput and energy per slot (eq. (6)) with standard errors over episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .env import SchedulingEnv
from .heuristics import DriftPlusPenalty, EDFPolicy, UniformPolicy
from .instances import SchedulingInstance
from .optimal import uniform_energy_for_budget

__all__ = ["EvalResult", "evaluate", "tune_edf", "tune_dpp", "tuned_uniform"]


@dataclass
class EvalResult:
    """Mean weighted throughput and energy per slot, with standard errors over episodes."""

    name: str
    throughput: float
    energy: float
    throughput_se: float
    energy_se: float
    episodes: int
    slots: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def evaluate(policy, env: SchedulingEnv | SchedulingInstance, episodes: int = 20, seed: int = 0,
             partial: bool | None = None) -> EvalResult:
    """Play ``policy`` for ``episodes`` episodes seeded ``seed, seed + 1, ...`` (policy RNG too).

    ``env`` may be an instance (a fully observed env is built). A policy that reads the channel is
    refused on a partially observed env.
    """
    if isinstance(env, SchedulingInstance):
        env = SchedulingEnv(env, partial=bool(partial))
    if int(episodes) != episodes or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes}")
    if env.partial and getattr(policy, "needs_channel", False):
        raise ValueError(f"policy {policy.name} reads the channel, but the env hides it (partial=True)")
    tp, en = np.zeros(episodes), np.zeros(episodes)
    beta = env.instance.beta
    for ep in range(int(episodes)):
        env.reset(seed=seed + ep)
        policy.reset(env, np.random.default_rng([seed + ep, 1]))
        done = False
        while not done:
            e = policy.energies(env)
            _, _, term, trunc, info = env.step(env.energies_to_action(e))
            tp[ep] += beta @ info["S"]
            en[ep] += info["E"].sum()
            done = term or trunc
    H = env.horizon
    tp, en = tp / H, en / H

    def se(x: np.ndarray) -> float:
        return float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")

    return EvalResult(policy.name, float(tp.mean()), float(en.mean()), se(tp), se(en), int(episodes),
                      int(episodes) * H)


def tuned_uniform(inst: SchedulingInstance) -> UniformPolicy:
    """Uniform energy with e-bar set analytically so that E = E_b (spec §3.4)."""
    return UniformPolicy(uniform_energy_for_budget(inst)[0])


def tune_edf(inst: SchedulingInstance, grid: np.ndarray | None = None, episodes: int = 10, seed: int = 0
             ) -> tuple[EDFPolicy, list[EvalResult]]:
    """Pick e_fix in {0.1, ..., 1.0} e_max by best throughput with E <= E_b on training seeds (spec §3.4)."""
    grid = np.round(np.arange(1, 11) * 0.1 * inst.e_max, 10) if grid is None else np.asarray(grid)
    results, best, best_tp = [], None, -np.inf
    env = SchedulingEnv(inst)
    for e_fix in grid:
        pol = EDFPolicy(float(e_fix), inst.budget)
        r = evaluate(pol, env, episodes, seed)
        results.append(r)
        if r.energy <= inst.budget * (1 + 1e-9) and r.throughput > best_tp:
            best, best_tp = pol, r.throughput
    if best is None:
        raise RuntimeError("no EDF energy met the budget")
    return best, results


def tune_dpp(inst: SchedulingInstance, Vs: tuple[float, ...] = (1, 10, 100, 1000), slots: int = 10_000,
             seed: int = 0, deadline_aware: bool = False, channel: str = "observed", slack: float = 1.02
             ) -> tuple[DriftPlusPenalty, list[EvalResult]]:
    """Best V with measured E <= ``slack`` E_b on a ``slots``-slot run, Z carried across episodes (spec §3.3)."""
    episodes = max(1, int(np.ceil(slots / inst.horizon)))
    env = SchedulingEnv(inst, partial=channel != "observed")
    results, best, best_tp = [], None, -np.inf
    for V in Vs:
        pol = DriftPlusPenalty(V, inst.budget, deadline_aware=deadline_aware, channel=channel)
        r = evaluate(pol, env, episodes, seed)
        results.append(r)
        if r.energy <= slack * inst.budget and r.throughput > best_tp:
            best, best_tp = pol, r.throughput
    if best is None:
        raise RuntimeError(f"no V in {Vs} met the budget within {slack}x")
    return best, results  # the virtual queue Z is kept from the tuning run (steady state)
