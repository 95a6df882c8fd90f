"""LSVI-UCB+ (Hu, Chen, Huang, ICML 2022), REVISED version, spec §4.1 — EXPERIMENTAL.

The ICML camera-ready builds the over-optimistic value function wrongly; the revised arXiv version
fixes it by adopting He et al.'s monotone pessimistic value function with rare switching (spec §4.1,
"Erratum"). This class implements that revised structure on the shared engine (spec §4.3 item 3):

* one weighted Gram matrix per h, Lambda = lambda I + sum sigma_bar^{-2} phi phi^T            (14e)
* regressions on V_hat, on V_hat^2 (variance estimate [phi^T w_tilde]_[0,H^2] - [phi^T w_hat]^2_[0,H],
  eq. (14a)) and on the pessimistic V_check (the correction term), all on that one matrix     (12)
* optimistic / pessimistic values monotone in k, recomputed at determinant doublings          (13)
* Bernstein-type radius O~(sqrt(d)) for the optimistic bonus                                   (15)

EXPERIMENTAL (spec §4.1 "Unknown", §9 #6): the floor of sigma_bar, the beta constants and the exact
algorithmic form of the "conservatism on elliptical potentials" have not been transcribed from the
revised paper. Until they are, the choices below are OURS:

* ``preset="theory"``: radii of eq. (15) evaluated at lambda = 1; the correction term uses
  Var(V - V_check) <= H E(V - V_check), i.e. D = min{2H (phi^T w_hat - phi^T w_check + 2 beta_bar u), H^2}
  (our reading of the "refined analysis of the correction term"); sigma_bar = max{sigma, sqrt(H),
  c_floor u^{1/2}} with c_floor = 0 by default (the conservatism term is not transcribed).
* ``preset="practical"``: radii c sqrt(d iota), c H sqrt(d iota), c H^2 sqrt(d iota) as in spec §4.3
  item 2, same D and floor.

So, until the transcription, LSVI-UCB+ differs from LSVI-UCB++ only in lambda, D and the floor term:
do not read a difference between the two curves as a statement about the papers. Under
``preset="practical"`` the two coincide exactly in practice: both use lambda = 1, the same radii and D,
and the ++ floor term c_f u^{1/2} <= 1 never exceeds sqrt(H), so their regret curves are identical
(observed on every instance we ran).
"""

from __future__ import annotations

import math

import numpy as np

from provable.agents.lsvi_ucb_pp import PRESETS, _check_common
from provable.agents.variance_aware import EngineConfig, VarianceAwareLSVI

__all__ = ["LSVIUCBPlus", "plus_config"]

EXPERIMENTAL = True


def plus_config(d: int, H: int, K: int, preset: str = "theory", *, delta: float = 0.05,
                sigma_floor: str = "sqrtH", c_beta: float = 1.0, c_beta_bar: float = 1.0,
                c_beta_tilde: float = 1.0, c_floor: float = 0.0, clip: str = "H") -> EngineConfig:
    """Engine configuration of the revised LSVI-UCB+ (experimental; see the module docstring)."""
    _check_common(K, delta, sigma_floor, preset)
    lam = 1.0
    iota = math.log(d * H * K / (delta * lam))
    if preset == "theory":
        root = math.sqrt(d * lam)
        beta = c_beta * (H * root + math.sqrt(d) * iota)
        beta_bar = c_beta_bar * (H * root + math.sqrt(d**3 * H**2) * iota)
        beta_tilde = c_beta_tilde * (H**2 * root + math.sqrt(d**3 * H**4) * iota)
    else:
        r = math.sqrt(d * iota)
        beta, beta_bar, beta_tilde = c_beta * r, c_beta_bar * H * r, c_beta_tilde * H**2 * r
    floor = math.sqrt(H) if sigma_floor == "sqrtH" else float(H)
    return EngineConfig(lam=lam, beta=beta, beta_bar=beta_bar, beta_tilde=beta_tilde, weighted=True,
                        pessimistic=True, monotone=True, switching="logdet", reward_known=True, clip=clip,
                        corr_coef=2.0 * H, corr_cap=float(H**2), sigma_floor=floor, floor_coef=c_floor)


class LSVIUCBPlus(VarianceAwareLSVI):
    """Revised LSVI-UCB+ on the shared engine — experimental (see the module docstring).

    Parameters are those of :class:`provable.agents.lsvi_ucb_pp.LSVIUCBPlusPlus` (``c_floor`` defaults
    to 0 here).
    """

    name = "lsvi-ucb-plus"
    needs_reward = True
    experimental = EXPERIMENTAL

    def __init__(self, phi: np.ndarray, H: int, *, reward: np.ndarray | None = None, K: int = 10_000,
                 seed: int = 0, preset: str = "theory", bonus_scale: float = 1.0, delta: float = 0.05,
                 sigma_floor: str = "sqrtH", c_beta: float = 1.0, c_beta_bar: float = 1.0,
                 c_beta_tilde: float = 1.0, c_floor: float = 0.0, clip: str = "H", path: str = "fast",
                 refresh_every: int = 1000) -> None:
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        d = np.asarray(phi).shape[-1]
        cfg = plus_config(d, H, K, preset, delta=delta, sigma_floor=sigma_floor, c_beta=c_beta,
                          c_beta_bar=c_beta_bar, c_beta_tilde=c_beta_tilde, c_floor=c_floor,
                          clip=clip).scaled(bonus_scale)
        self.K, self.preset, self.bonus_scale = int(K), preset, float(bonus_scale)
        super().__init__(phi, H, config=cfg, reward=reward, seed=seed, path=path, refresh_every=refresh_every)
