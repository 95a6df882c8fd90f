"""LSVI-UCB (Jin, Yang, Wang, Jordan, COLT 2020), spec §3, as a preset of the shared engine.

Unit weights, Hoeffding bonus, the reward regressed together with the next value (spec §9 #3):

    Lambda_h = lambda I + sum_tau phi_tau phi_tau^T                                   spec eq. (8)
    w_h = Lambda_h^{-1} sum_tau phi_tau [r_tau + V_{h+1}(s'_tau)]                     spec eq. (9)
    Q_h = min{ w_h^T phi + beta ||phi||_{Lambda_h^{-1}}, H }                          spec eq. (10)
    lambda = 1,  beta = c d H sqrt(iota),  iota = log(2 d T / p),  T = K H            spec eq. (11)

``bonus_scale`` is the absolute constant c of eq. (11) (spec §9 #1; c = 1 by default, the "theory
constants"); smaller values are the usual practical choice. ``rare_switch=True`` recomputes (9)-(10)
only when log det Lambda_h has grown by log 2 for some h since the last recomputation (Wang, Zhou, Gu,
NeurIPS 2021; spec §3 "Options").
"""

from __future__ import annotations

import math

import numpy as np

from provable.agents.variance_aware import EngineConfig, VarianceAwareLSVI

__all__ = ["LSVIUCB", "LSVIUCBRareSwitch", "lsvi_ucb_beta"]


def lsvi_ucb_beta(d: int, H: int, K: int, p: float = 0.05, c: float = 1.0) -> float:
    """Hoeffding radius ``beta = c d H sqrt(log(2 d T / p))``, T = K H (spec eq. (11))."""
    if K < 1:
        raise ValueError(f"K must be a positive integer, got {K!r}")
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p!r}")
    return c * d * H * math.sqrt(math.log(2.0 * d * K * H / p))


class LSVIUCB(VarianceAwareLSVI):
    """LSVI-UCB (spec §3) on the shared engine.

    Parameters
    ----------
    phi, H, seed: known features (S, A, d), horizon, seed (tie-break priority).
    K: number of episodes planned (enters iota of eq. (11)).
    bonus_scale: the constant c of eq. (11), default 1 (theory constants).
    p: failure probability in iota (eq. (11)).
    lam: ridge parameter (eq. (11): 1).
    clip: ``"H"`` (eq. (10)) or ``"H-h+1"`` (tighter, spec §9 #2).
    reward_known: use the known reward instead of regressing it (then ``reward`` is required).
    rare_switch: determinant-doubling switching (spec §3 "Options"); default False here, True in
        :class:`LSVIUCBRareSwitch`.
    path: ``"fast"`` (eq. (35) aggregation) or ``"plain"`` (all stored transitions).
    """

    name = "lsvi-ucb"
    rare_switch_default = False

    def __init__(self, phi: np.ndarray, H: int, *, K: int = 10_000, reward: np.ndarray | None = None,
                 seed: int = 0, bonus_scale: float = 1.0, p: float = 0.05, lam: float = 1.0,
                 clip: str = "H", reward_known: bool = False, rare_switch: bool | None = None,
                 path: str = "fast", refresh_every: int = 1000) -> None:
        if rare_switch is None:
            rare_switch = self.rare_switch_default
        d = np.asarray(phi).shape[-1]
        beta = lsvi_ucb_beta(d, H, K, p, 1.0)
        cfg = EngineConfig(lam=lam, beta=beta, reward_known=reward_known, clip=clip,
                           switching="logdet" if rare_switch else "every").scaled(bonus_scale)
        self.K, self.p, self.bonus_scale = int(K), float(p), float(bonus_scale)
        super().__init__(phi, H, config=cfg, reward=reward if reward_known else None, seed=seed,
                         path=path, refresh_every=refresh_every)


class LSVIUCBRareSwitch(LSVIUCB):
    """LSVI-UCB with rare switching (spec §3 "Options", spec §4.3 item 4)."""

    name = "lsvi-ucb-rs"
    rare_switch_default = True
